package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// policyInstance is an AWS instance without LEDGER_AWS_EXTERNAL_PREFIXES (the other AWS
// tests approve everything with it), plus extra settings.
func policyInstance(t *testing.T, extra ...string) (*instanceEnv, *awsfake.Server) {
	t.Helper()
	e, fake := awsInstance(t)
	e.vars = slices.DeleteFunc(e.vars, func(v string) bool { return strings.HasPrefix(v, "LEDGER_AWS_EXTERNAL_PREFIXES=") })
	e.vars = append(e.vars, extra...)
	return e, fake
}

// limitedToken creates a board token limited to one company.
func limitedToken(t *testing.T, e *instanceEnv, company string) string {
	t.Helper()
	code, out, errOut := e.run(t, "token", "create", "--board", "--company", company)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// reasonOf is the finer code of an error answer.
func reasonOf(t *testing.T, r response) string {
	t.Helper()
	var body struct{ Details struct{ Code, Reason string } }
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return body.Details.Reason
}

func linkBody(name, ref string) string {
	return `{"name": "` + name + `", "managedMode": "external_reference", "externalRef": "` + ref + `"}`
}

// Company B, with a token limited to it, reads only what an instance operator approved
// for it: it cannot approve itself, links and imports nothing without an approval, sees
// only approved inventory, and a withdrawn approval stops resolution. Its refused
// attempts are in its own log.
func TestExternalPolicyEndToEnd(t *testing.T) {
	t.Parallel()
	e, fake := policyInstance(t)
	billing := canary("billing-db")
	fake.Seed(awsfake.Seeded{Name: "prod/billing/db-password", Value: billing}, awsfake.Seeded{Name: "team-b/api", Value: "team-b-value"})
	s := e.serve(t)
	e.waitReady(t, s)
	admin := e.client(t, e.instanceToken(t))
	b := e.client(t, limitedToken(t, e, companyB))
	policy := "/api/companies/" + companyB + "/external-policy"
	secrets := "/api/companies/" + companyB + "/secrets"
	preview, commit := secrets+"/remote-import/preview", secrets+"/remote-import"

	policyNothingApprovedStep(t, b, fake, policy, secrets, preview, commit)
	id, agent := policyApprovedPrefixStep(t, e, b, secrets, preview)
	policyWithdrawnStep(t, e, admin, fake, agent, id)
	policyRefusalsInTheLogStep(t, admin)
	policyInAuditStateStep(t, e)
	if strings.Contains(b.seen.String()+admin.seen.String()+agent.seen.String(), billing) {
		t.Fatal("the refused secret's value is in an answer")
	}
}

// policyNothingApprovedStep: B cannot approve anything for itself; with nothing
// approved: no link, no import, no preview, nothing written.
func policyNothingApprovedStep(t *testing.T, b *apiClient, fake *awsfake.Server, policy, secrets, preview, commit string) {
	t.Helper()
	if r := b.must(403, "PUT", policy, `{"prefixes": ["prod/"]}`); reasonOf(t, r) != "external_policy_instance_only" {
		t.Fatalf("B set its own policy: %s", r.body)
	}
	if got := b.must(200, "GET", policy, "").json(t); got["set"] != false || len(got["prefixes"].([]any)) != 0 {
		t.Fatalf("B's policy: %v", got)
	}
	// Nothing approved: no link, no import, no preview, nothing written.
	for _, r := range []response{
		b.must(422, "POST", secrets, linkBody("billing", "prod/billing/db-password")),
		b.must(422, "POST", commit, `{"secrets": [{"externalRef": "`+fake.ARN("prod/billing/db-password")+`"}]}`),
		b.must(422, "POST", preview, `{}`),
	} {
		if reasonOf(t, r) != "external_prefix_not_approved" || !strings.Contains(string(r.body), "external-policy") {
			t.Fatalf("without approval: %s", r.body)
		}
	}
	if listed := b.must(200, "GET", secrets, "").list(t); len(listed) != 0 {
		t.Fatalf("refused links wrote secrets: %v", listed)
	}
}

// policyApprovedPrefixStep: the operator approves team-b/ (CLI); B sees and links only
// under it; an approval never reaches a secret the ledger manages: the guardrail refuses
// it, and that refusal is recorded too; an AWS vault of B stays in the approved region.
// It returns the linked secret and the agent bound to it.
func policyApprovedPrefixStep(t *testing.T, e *instanceEnv, b *apiClient, secrets, preview string) (string, *apiClient) {
	t.Helper()
	code, out, errOut := e.run(t, "external-policy", "set", "-C", companyB, "--prefix", "team-b/", "--prefix", "paperclip/",
		"--region", "us-east-1")
	if code != 0 || !strings.Contains(out, `"team-b/"`) {
		t.Fatalf("external-policy set: %d %s %s", code, out, errOut)
	}
	var page struct{ Candidates []struct{ RemoteName string } }
	if err := json.Unmarshal(b.must(200, "POST", preview, `{}`).body, &page); err != nil || len(page.Candidates) != 1 ||
		page.Candidates[0].RemoteName != "team-b/api" {
		t.Fatalf("preview: %+v %v", page, err)
	}
	if r := b.must(422, "POST", secrets, linkBody("billing", "prod/billing/db-password")); reasonOf(t, r) != "external_prefix_not_approved" {
		t.Fatalf("link outside the prefix: %s", r.body)
	}
	// An approval never reaches a secret the ledger manages: the guardrail refuses it,
	// and that refusal is recorded too.
	b.must(422, "POST", secrets, linkBody("openai", "paperclip/e2e-dep/"+companyA+"/openai"))
	id := b.must(201, "POST", secrets, linkBody("api", "team-b/api")).json(t)["id"].(string)
	b.must(201, "POST", "/api/companies/"+companyB+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "b1", "configPath": "env.API"}`)
	key := b.must(201, "POST", "/api/companies/"+companyB+"/agent-keys", `{"targetType": "agent", "targetId": "b1"}`).json(t)["token"].(string)
	agent := e.client(t, key)
	var res struct{ Env map[string]string }
	if err := json.Unmarshal(agent.must(200, "POST", "/api/runtime/resolve", `{}`).body, &res); err != nil || res.Env["API"] != "team-b-value" {
		t.Fatalf("resolution under the approved prefix: %v", err)
	}
	// An AWS vault of B stays in the approved region.
	if r := b.must(422, "POST", vaultsPath(companyB), `{"displayName": "elsewhere", "provider": "aws_secrets_manager",
		"config": {"region": "eu-west-1"}}`); reasonOf(t, r) != "vault_region_not_approved" {
		t.Fatalf("vault outside the approved regions: %s", r.body)
	}
	return id, agent
}

// policyWithdrawnStep: withdrawn, the approval no longer resolves: a failed access
// record, no AWS read.
func policyWithdrawnStep(t *testing.T, e *instanceEnv, admin *apiClient, fake *awsfake.Server, agent *apiClient, id string) {
	t.Helper()
	reads := fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue")
	if code, _, errOut := e.run(t, "external-policy", "set", "-C", companyB, "--prefix", "other/"); code != 0 {
		t.Fatalf("withdraw: %s", errOut)
	}
	agent.must(422, "POST", "/api/runtime/resolve", `{}`)
	if n := fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue"); n != reads {
		t.Fatalf("the withdrawn reference was read at AWS %d times", n-reads)
	}
	accesses := admin.must(200, "GET", "/api/secrets/"+id+"/access-events", "").list(t)
	if len(accesses) == 0 || accesses[0]["outcome"] != "failed" || accesses[0]["errorCode"] != "external_prefix_not_approved" {
		t.Fatalf("access events: %v", accesses)
	}
}

// policyRefusalsInTheLogStep: B's log holds its refused attempts: who, which reference,
// why.
func policyRefusalsInTheLogStep(t *testing.T, admin *apiClient) {
	t.Helper()
	var refusals []map[string]any
	for _, ev := range admin.must(200, "GET", "/api/companies/"+companyB+"/events?after=0", "").list(t) {
		if ev["type"] == "external_reference.refused" {
			refusals = append(refusals, ev)
		}
	}
	if len(refusals) != 4 || refusals[3]["payload"].(map[string]any)["reason"] != "provider_guardrail" {
		t.Fatalf("%d refusals in B's log, want the link, the import, the link outside the prefix and the guardrail's: %v",
			len(refusals), refusals)
	}
	first, _ := json.Marshal(refusals[0])
	if p := refusals[0]["payload"].(map[string]any); p["externalRef"] != "prod/billing/db-password" || p["reason"] != "external_prefix_not_approved" ||
		refusals[0]["actorType"] != "board" || refusals[0]["actorId"] == "" {
		t.Fatalf("refusal: %s", first)
	}
}

// policyInAuditStateStep: audit state shows the policy as it is.
func policyInAuditStateStep(t *testing.T, e *instanceEnv) {
	t.Helper()
	var st struct{ ExternalPolicy struct{ Prefixes []string } }
	code, out, errOut := e.run(t, "audit", "state", "-C", companyB, "--at", time.Now().UTC().Format(time.RFC3339Nano), "-o", "json")
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || slices.Compare(st.ExternalPolicy.Prefixes, []string{"other/"}) != 0 {
		t.Fatalf("audit state: %d %s %s", code, out, errOut)
	}
	code, out, _ = e.run(t, "audit", "state", "-C", companyB, "--at", time.Now().UTC().Format(time.RFC3339Nano), "-o", "table")
	if code != 0 || !strings.Contains(out, "EXTERNAL POLICY") || !strings.Contains(out, "other/") {
		t.Fatalf("audit state as a table: %d %s", code, out)
	}
}

// LEDGER_AWS_EXTERNAL_PREFIXES approves prefixes for every company; a bad one stops serve.
// On upgrade, the references a company held are approved as exact references: after
// the setting is gone they keep resolving, and nothing else is approved.
func TestExternalPrefixesSettingAndUpgrade(t *testing.T) {
	t.Parallel()
	bad, _ := policyInstance(t, "LEDGER_AWS_EXTERNAL_PREFIXES=team-*")
	if code, _, errOut := bad.run(t, "serve"); code != 2 || !strings.Contains(errOut, "LEDGER_AWS_EXTERNAL_PREFIXES") {
		t.Fatalf("serve with a '*' inside a prefix: exit %d %s", code, errOut)
	}
	e, fake := policyInstance(t, "LEDGER_AWS_EXTERNAL_PREFIXES=legacy/")
	fake.Seed(awsfake.Seeded{Name: "legacy/db", Value: "legacy-value"}, awsfake.Seeded{Name: "legacy/other", Value: "other"},
		awsfake.Seeded{Name: "prod/billing/db-password", Value: "billing"})
	s := e.serve(t)
	e.waitReady(t, s)
	b := e.client(t, limitedToken(t, e, companyB))
	secrets := "/api/companies/" + companyB + "/secrets"
	b.must(422, "POST", secrets, linkBody("billing", "prod/billing/db-password"))
	id := b.must(201, "POST", secrets, linkBody("legacy", "legacy/db")).json(t)["id"].(string)
	b.must(201, "POST", "/api/companies/"+companyB+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "b1", "configPath": "env.DB"}`)
	key := b.must(201, "POST", "/api/companies/"+companyB+"/agent-keys", `{"targetType": "agent", "targetId": "b1"}`).json(t)["token"].(string)

	// The instance as a binary before policies left it: no upgrade table, migration pending.
	db := e.ownerDB(t)
	if _, err := db.Exec(context.Background(), `DROP TABLE ledger_external_policy_upgrade;
		DELETE FROM schema_migrations WHERE version = 14`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close(context.Background())
	s.stop(t)
	e.vars = slices.DeleteFunc(e.vars, func(v string) bool { return strings.HasPrefix(v, "LEDGER_AWS_EXTERNAL_PREFIXES=") })
	s = e.serve(t, "--migrate")
	e.waitReady(t, s)
	var res struct{ Env map[string]string }
	if err := json.Unmarshal(e.client(t, key).must(200, "POST", "/api/runtime/resolve", `{}`).body, &res); err != nil || res.Env["DB"] != "legacy-value" {
		t.Fatalf("the held reference after the upgrade: %v", err)
	}
	got := b.must(200, "GET", "/api/companies/"+companyB+"/external-policy", "").json(t)
	if got["setBy"] != "system:external-policy-upgrade" || len(got["prefixes"].([]any)) != 0 || len(got["references"].([]any)) != 1 ||
		got["references"].([]any)[0] != "legacy/db" {
		t.Fatalf("the upgrade's policy: %v", got)
	}
	b.must(422, "POST", secrets, linkBody("other", "legacy/other"))
	// A second start writes nothing more.
	s.stop(t)
	s = e.serve(t)
	e.waitReady(t, s)
	if again := b.must(200, "GET", "/api/companies/"+companyB+"/external-policy", "").json(t); again["version"] != float64(1) {
		t.Fatalf("the upgrade ran twice: %v", again)
	}
}
