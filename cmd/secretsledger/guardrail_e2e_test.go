package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// limitedClient is a client with a board token limited to one company.
func (e *instanceEnv) limitedClient(t *testing.T, company string) *apiClient {
	t.Helper()
	code, out, errOut := e.run(t, "token", "create", "--board", "--company", company)
	if code != 0 || !strings.HasPrefix(out, "slb_") {
		t.Fatalf("token create --company %s: %d %s", company, code, errOut)
	}
	return e.client(t, strings.TrimSpace(out))
}

// providerCodeOf returns details.providerCode of an error answer.
func providerCodeOf(t *testing.T, r response) string {
	t.Helper()
	var body struct{ Details struct{ ProviderCode string } }
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return body.Details.ProviderCode
}

// guardrailCase is what the steps of TestAWSExternalReferencesNeverReachManagedSecrets
// share.
type guardrailCase struct {
	e             *instanceEnv
	fake          *awsfake.Server
	a, b          *apiClient // board tokens limited to company A and to company B
	admin         *apiClient
	later, shared string // values of references that become managed later
	bVault        string
}

// link makes an external reference of B's in its vault.
func (g *guardrailCase) link(name, ref string) response {
	b, bVault := g.b, g.bVault
	return b.do("POST", "/api/companies/"+companyB+"/secrets", fmt.Sprintf(
		`{"name": %q, "managedMode": "external_reference", "externalRef": %q, "providerConfigId": %q}`, name, ref, bVault))
}

// Company B, with a token limited to it, tries to read what the ledger manages for
// company A through external references in an AWS vault of its own: every managed
// namespace of the instance and every secret tagged managed-by is refused at link and
// import (nothing written, no value read), a reference that becomes managed later stops
// resolving (recorded as a provider_guardrail access failure), and B's import preview
// shows none of them and no account id.
func TestAWSExternalReferencesNeverReachManagedSecrets(t *testing.T) {
	t.Parallel()
	e, fake := awsInstance(t)
	e.vars = append(e.vars, "LEDGER_AWS_CACHE_TTL=0") // every resolution asks AWS for the tags again
	later, shared, tagged := canary("later"), canary("shared"), canary("tagged")
	fake.Seed(awsfake.Seeded{Name: "renamed/openai", Value: tagged, Tags: []awsfake.Tag{{Key: awssm.TagManagedBy, Value: "paperclip"}}},
		awsfake.Seeded{Name: "paperclip/a-ns/stray", Value: canary("stray")},
		awsfake.Seeded{Name: "team/later", Value: later}, awsfake.Seeded{Name: "paperclip/a-later/shared", Value: shared})
	s := e.serve(t)
	e.waitReady(t, s)
	a, b := e.limitedClient(t, companyA), e.limitedClient(t, companyB)
	admin := e.client(t, e.instanceToken(t)) // names vault namespaces, which company tokens may not unapproved
	g := &guardrailCase{e: e, fake: fake, a: a, b: b, admin: admin, later: later, shared: shared}

	managed := guardrailAManagedSecretsStep(t, g)
	guardrailBVaultStep(t, g)
	guardrailRefusedLinksAndImportsStep(t, g, managed)
	guardrailPreviewShowsNothingManagedStep(t, g)
	ids := guardrailBecomesManagedLaterStep(t, g)

	// doctor names the reference now under a managed namespace (an upgrade's case).
	s.stop(t)
	code, out, errOut := e.run(t, "doctor")
	if code != 1 || !strings.Contains(out, "FAIL external reference: secret "+ids["env.SHARED"]+" of company "+companyB) ||
		strings.Contains(out, ids["env.LATER"]) {
		t.Fatalf("doctor: %d %s %s", code, out, errOut)
	}
}

// guardrailAManagedSecretsStep makes A's managed secrets: one of the deployment's
// instance, one in A's own vault; it returns the first's name.
func guardrailAManagedSecretsStep(t *testing.T, g *guardrailCase) string {
	t.Helper()
	a, admin, fake := g.a, g.admin, g.fake
	a.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "openai", "value": "`+canary("a-openai")+`"}`)
	managed := "paperclip/e2e-dep/" + companyA + "/openai"
	aVault := admin.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "A", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "a-ns"}}`).json(t)["id"].(string)
	a.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "db", "value": "a-db", "providerConfigId": "`+aVault+`"}`)
	if !fake.Exists(managed) || !fake.Exists("paperclip/a-ns/"+companyA+"/db") {
		t.Fatal("A's managed secrets are not at AWS")
	}
	return managed
}

// guardrailBVaultStep makes B's own AWS vault: its namespace is its id. Naming one, B
// could spell a namespace that stops other companies' references (every vault's
// namespace is managed).
func guardrailBVaultStep(t *testing.T, g *guardrailCase) {
	t.Helper()
	b := g.b
	if r := b.do("POST", vaultsPath(companyB), `{"displayName": "B", "provider": "aws_secrets_manager",
		"config": {"region": "us-east-1", "namespace": "a-later"}}`); r.status != 422 || reasonOf(t, r) != "vault_namespace_not_approved" {
		t.Fatalf("a company token named an unapproved vault namespace: %d %s", r.status, r.body)
	}
	if r := b.do("POST", vaultsPath(companyB), `{"displayName": "B", "provider": "aws_secrets_manager",
		"config": {"region": "us-east-1", "secretNamePrefix": "paperclip/a-later"}}`); r.status != 422 || reasonOf(t, r) != "vault_namespace_not_approved" {
		t.Fatalf("a company token set a vault's name prefix: %d %s", r.status, r.body)
	}
	bVault := b.must(201, "POST", vaultsPath(companyB),
		`{"displayName": "B", "provider": "aws_secrets_manager", "config": {"region": "us-east-1"}}`).json(t)["id"].(string)
	g.bVault = bVault
}

// guardrailRefusedLinksAndImportsStep: every managed name, ARN and tagged secret is
// refused at link and import: nothing written, no value read.
func guardrailRefusedLinksAndImportsStep(t *testing.T, g *guardrailCase, managed string) {
	t.Helper()
	b, fake, bVault, link := g.b, g.fake, g.bVault, g.link
	refused := []string{managed, fake.ARN(managed), "/" + managed, "paperclip/a-ns/" + companyA + "/db", "paperclip/a-ns/stray",
		"renamed/openai", fake.ARN("renamed/openai")}
	reads := fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue")
	for _, ref := range refused {
		r := link("stolen", ref)
		if r.status != 422 || providerCodeOf(t, r) != "provider_guardrail" {
			t.Fatalf("link %s: %d %s", ref, r.status, r.body)
		}
	}
	rows := make([]string, len(refused))
	for i, ref := range refused {
		rows[i] = fmt.Sprintf(`{"externalRef": %q, "name": "stolen-%d"}`, ref, i)
	}
	var imported struct {
		ImportedCount int
		Results       []struct{ Status, Reason string }
	}
	body := fmt.Sprintf(`{"providerConfigId": %q, "secrets": [%s]}`, bVault, strings.Join(rows, ","))
	if err := json.Unmarshal(b.must(200, "POST", "/api/companies/"+companyB+"/secrets/remote-import", body).body, &imported); err != nil {
		t.Fatal(err)
	}
	for _, r := range imported.Results {
		if r.Status != "error" || r.Reason != "provider_guardrail" {
			t.Fatalf("import: %+v", imported)
		}
	}
	if n := len(b.must(200, "GET", "/api/companies/"+companyB+"/secrets", "").list(t)); imported.ImportedCount != 0 || n != 0 {
		t.Fatalf("B holds %d secrets after the refusals", n)
	}
	if n := fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue"); n != reads {
		t.Fatalf("%d value reads during refused links", n-reads)
	}
}

// guardrailPreviewShowsNothingManagedStep: B's preview, of its vault and of the
// deployment's instance: nothing managed, no account id.
func guardrailPreviewShowsNothingManagedStep(t *testing.T, g *guardrailCase) {
	t.Helper()
	b, bVault := g.b, g.bVault
	for _, vault := range []string{bVault, ""} {
		p := string(b.must(200, "POST", "/api/companies/"+companyB+"/secrets/remote-import/preview",
			`{"providerConfigId": "`+vault+`", "pageSize": 100}`).body)
		if strings.Contains(p, "paperclip/e2e-dep/") || strings.Contains(p, "paperclip/a-ns/") || strings.Contains(p, "renamed/openai") ||
			strings.Contains(p, awsfake.Account) || strings.Contains(p, "arn:") || !strings.Contains(p, "team/later") {
			t.Fatalf("preview of vault %q: %s", vault, p)
		}
	}
}

// guardrailBecomesManagedLaterStep: linked while unmanaged, then tagged at AWS or placed
// under a new vault's namespace: both stop resolving, and the refusal is in B's access
// events. It returns the references' secrets by config path.
func guardrailBecomesManagedLaterStep(t *testing.T, g *guardrailCase) map[string]string {
	t.Helper()
	e, b, admin, fake, later, shared, link := g.e, g.b, g.admin, g.fake, g.later, g.shared, g.link
	ids := map[string]string{}
	for _, l := range []struct{ path, ref string }{{"env.LATER", "team/later"}, {"env.SHARED", "paperclip/a-later/shared"}} {
		ids[l.path] = link(l.path, l.ref).json(t)["id"].(string)
		b.must(201, "POST", "/api/companies/"+companyB+"/secret-bindings",
			`{"secretId": "`+ids[l.path]+`", "targetType": "agent", "targetId": "bot", "configPath": "`+l.path+`"}`)
	}
	agent := e.client(t, b.must(201, "POST", "/api/companies/"+companyB+"/agent-keys",
		`{"targetType": "agent", "targetId": "bot"}`).json(t)["token"].(string))
	env := agent.must(200, "POST", "/api/runtime/resolve", `{}`).json(t)["env"].(map[string]any)
	if env["LATER"] != later || env["SHARED"] != shared {
		t.Fatalf("resolve before: %v", env)
	}
	fake.SetTag("team/later", awssm.TagManagedBy, "paperclip")
	admin.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "A later", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "a-later"}}`)
	r := agent.do("POST", "/api/runtime/resolve", `{}`)
	if r.status != 422 || strings.Contains(string(r.body), later) || strings.Contains(string(r.body), shared) ||
		!strings.Contains(string(r.body), "provider_guardrail") {
		t.Fatalf("resolve after: %d %s", r.status, r.body)
	}
	// The events route reads the sealed log: the refusals appear once the sealer chained them.
	pollUntil(t, 10*time.Second, func() string {
		events := b.must(200, "GET", "/api/companies/"+companyB+"/events?after=0", "").list(t)
		for path, id := range ids {
			found := false
			for _, ev := range events {
				raw, _ := json.Marshal(ev)
				found = found || ev["type"] == "secret.accessed" && strings.Contains(string(raw), `"secretId":"`+id+`"`) &&
					strings.Contains(string(raw), `"outcome":"provider_error"`) && strings.Contains(string(raw), `"providerCode":"provider_guardrail"`)
			}
			if !found {
				return fmt.Sprintf("%s: no provider_guardrail access failure in %v", path, events)
			}
		}
		return ""
	})
	return ids
}

// An AWS vault needs an instance configured for AWS: refused (nothing written) without
// LEDGER_AWS_VAULTS, usable with it, and refused again, with doctor saying why, once the
// setting is gone.
func TestAWSVaultsNeedTheSetting(t *testing.T) {
	t.Parallel()
	fake := awsfake.New(t, "us-east-1")
	e := newInstance(t)
	e.vars = []string{"PAPERCLIP_SECRETS_AWS_ENDPOINT=" + fake.URL, "AWS_ACCESS_KEY_ID=AKIAE2ETEST",
		"AWS_SECRET_ACCESS_KEY=e2e-test-secret", "AWS_EC2_METADATA_DISABLED=true"}
	vault := `{"displayName": "AWS", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "ns"}}`
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	r := api.do("POST", vaultsPath(companyA), vault)
	if r.status != 422 || providerCodeOf(t, r) != "provider_guardrail" || !strings.Contains(string(r.body), "LEDGER_AWS_VAULTS") {
		t.Fatalf("AWS vault without the setting: %d %s", r.status, r.body)
	}
	if n := len(api.must(200, "GET", vaultsPath(companyA), "").list(t)); n != 0 {
		t.Fatalf("%d vaults after a refused create", n)
	}
	s.stop(t)

	e.vars = append(e.vars, "LEDGER_AWS_VAULTS=on")
	s = e.serve(t)
	e.waitReady(t, s)
	id := api.must(201, "POST", vaultsPath(companyA), vault).json(t)["id"].(string)
	api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "in-aws", "value": "v", "providerConfigId": "`+id+`"}`)
	if !fake.Exists("paperclip/ns/" + companyA + "/in-aws") {
		t.Fatal("the vault's secret is not at AWS")
	}
	s.stop(t)

	e.vars = e.vars[:len(e.vars)-1]
	s = e.serve(t)
	e.waitReady(t, s)
	r = api.do("POST", "/api/companies/"+companyA+"/secrets", `{"name": "more", "value": "v", "providerConfigId": "`+id+`"}`)
	if r.status != 422 || providerCodeOf(t, r) != "provider_guardrail" || fake.Exists("paperclip/ns/"+companyA+"/more") {
		t.Fatalf("a secret in an AWS vault with the setting gone: %d %s", r.status, r.body)
	}
	s.stop(t)
	code, out, errOut := e.run(t, "doctor")
	if !strings.Contains(out, "WARN aws_secrets_manager: 1 AWS vault(s) exist but LEDGER_AWS_VAULTS is off") {
		t.Fatalf("doctor: %d %s %s", code, out, errOut)
	}
}
