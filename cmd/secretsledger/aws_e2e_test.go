package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// awsInstance is an instance whose deployment default is aws_secrets_manager, served by
// the in-process fake through the real SDK (PAPERCLIP_SECRETS_AWS_ENDPOINT), that
// approves external references for every company.
func awsInstance(t *testing.T) (*instanceEnv, *awsfake.Server) {
	t.Helper()
	fake := awsfake.New(t, "us-east-1")
	e := newInstance(t)
	e.vars = []string{
		"PAPERCLIP_SECRETS_PROVIDER=aws_secrets_manager",
		"PAPERCLIP_SECRETS_AWS_REGION=us-east-1",
		"PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID=e2e-dep",
		"PAPERCLIP_SECRETS_AWS_KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/e2e",
		"PAPERCLIP_SECRETS_AWS_ENDPOINT=" + fake.URL,
		"PAPERCLIP_SECRETS_AWS_DELETE_RECOVERY_DAYS=7",
		"AWS_ACCESS_KEY_ID=AKIAE2ETEST", "AWS_SECRET_ACCESS_KEY=e2e-test-secret",
		"AWS_EC2_METADATA_DISABLED=true",
		// Every reference outside a managed namespace is approved; the policy's own tests
		// (externalpolicy_e2e_test.go) take this away.
		"LEDGER_AWS_EXTERNAL_PREFIXES=*",
	}
	return e, fake
}

func TestAWSProviderEndToEnd(t *testing.T) {
	t.Parallel()
	e, fake := awsInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	follower := startFollower(t, api.subscriber(t, companyA))
	v1, v2 := canary("aws-v1"), canary("aws-v2")

	created := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "OpenAI key", "value": "`+v1+`"}`).json(t)
	id := created["id"].(string)
	name := "paperclip/e2e-dep/" + companyA + "/openai-key"
	if created["provider"] != "aws_secrets_manager" || !fake.Exists(name) {
		t.Fatalf("created %v; the fake has %s: %v", created, name, fake.Exists(name))
	}
	first := fake.CurrentVersion(name)
	awsRotationPromotedStep(t, api, fake, id, name, first, v2)
	awsPinnedAndLatestResolveStep(t, e, api, id, v1, v2)
	awsDeleteAndRestoreStep(t, api, fake, id, name)
	awsRefusedAndThrottledStep(t, api, fake)

	// The values are nowhere but in the resolve answer: not in the database, the log,
	// NATS, or any other answer.
	follower.waitFor(t, "the restore on NATS", hasType("secret.restored", "secret-"+id))
	s.stop(t)
	dump := e.pgDump(t)
	var published strings.Builder
	for _, ev := range follower.events() {
		fmt.Fprintf(&published, "%s\n", ev.Payload)
	}
	seen := api.seen.String() // the agent's client saw the values; the board's saw every other answer
	for where, text := range map[string]string{"pg_dump": dump, "server log": s.stderr.String(), "NATS": published.String(), "answers": seen} {
		for _, v := range []string{v1, v2} {
			if strings.Contains(text, v) {
				t.Errorf("a plaintext value is in the %s", where)
			}
		}
	}
	if !strings.Contains(dump, "aws_secrets_manager") {
		t.Fatal("the dump does not hold the secrets: the canary search proves nothing")
	}
	// doctor prints the provider's health: static keys in the environment are a warning.
	code, out, errOut := e.run(t, "doctor")
	if code != 0 || !strings.Contains(out, "WARN aws_secrets_manager: region us-east-1, prefix paperclip, deployment e2e-dep") ||
		!strings.Contains(out, "static AWS_ACCESS_KEY_ID") || strings.Contains(out, "e2e-test-secret") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
}

// awsRotationPromotedStep: a rotation is staged at AWS and promoted once the ledger
// committed it.
func awsRotationPromotedStep(t *testing.T, api *apiClient, fake *awsfake.Server, id, name, first, v2 string) {
	t.Helper()
	api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+v2+`"}`)
	deadline := time.Now().Add(10 * time.Second)
	for fake.CurrentVersion(name) == first {
		if time.Now().After(deadline) {
			t.Fatalf("AWSCURRENT never moved to the rotation: %v", fake.Stages(name))
		}
		time.Sleep(20 * time.Millisecond) // polling the fake for the promotion
	}
}

// awsPinnedAndLatestResolveStep: pinned and latest resolve their own versions at AWS.
func awsPinnedAndLatestResolveStep(t *testing.T, e *instanceEnv, api *apiClient, id, v1, v2 string) {
	t.Helper()
	api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "a1", "configPath": "pinned", "versionSelector": 1}`)
	api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "a1", "configPath": "latest"}`)
	key := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "a1"}`).json(t)["token"].(string)
	var res struct{ Values map[string]string }
	if err := json.Unmarshal(e.client(t, key).must(200, "POST", "/api/runtime/resolve", `{}`).body, &res); err != nil {
		t.Fatal(err)
	}
	if res.Values["pinned"] != v1 || res.Values["latest"] != v2 {
		t.Fatal("resolution did not return each binding's own version")
	}
}

// awsDeleteAndRestoreStep: delete schedules the AWS secret for deletion within the
// recovery window; restore brings it back.
func awsDeleteAndRestoreStep(t *testing.T, api *apiClient, fake *awsfake.Server, id, name string) {
	t.Helper()
	api.must(200, "DELETE", "/api/secrets/"+id, "")
	if !fake.ScheduledForDeletion(name) {
		t.Fatal("the ledger's delete did not schedule the AWS secret for deletion")
	}
	api.must(200, "POST", "/api/secrets/"+id+"/restore", "")
	if fake.ScheduledForDeletion(name) {
		t.Fatal("restore left the AWS secret scheduled for deletion")
	}
}

// awsRefusedAndThrottledStep: a key whose AWS name would leave the derived scope is
// refused before any AWS call; throttling that outlasts the SDK's retries is a 429 with
// a safe message.
func awsRefusedAndThrottledStep(t *testing.T, api *apiClient, fake *awsfake.Server) {
	t.Helper()
	// A key whose AWS name would leave the derived scope is refused before any AWS call.
	before := fake.TotalCalls()
	r := api.do("POST", "/api/companies/"+companyA+"/secrets", `{"name": "dots", "key": "..", "value": "v"}`)
	if r.status != 403 || !strings.Contains(string(r.body), "drifted outside the derived deployment/company scope") {
		t.Fatalf("guardrail: %d %s", r.status, r.body)
	}
	if fake.TotalCalls() != before {
		t.Fatalf("the refused create made %d AWS calls", fake.TotalCalls()-before)
	}

	// Throttling that outlasts the SDK's retries is a 429 with a safe message.
	fake.Inject("CreateSecret", awsfake.Throttling(), 100)
	r = api.do("POST", "/api/companies/"+companyA+"/secrets", `{"name": "throttled", "value": "v"}`)
	var body struct {
		Error   string
		Details struct{ Code string }
	}
	_ = json.Unmarshal(r.body, &body)
	if r.status != 429 || body.Details.Code != "ETHROTTLED" || strings.Contains(body.Error, "arn:") || strings.Contains(body.Error, awsfake.Account) {
		t.Fatalf("throttled create: %d %s", r.status, r.body)
	}
	fake.Inject("CreateSecret", awsfake.Throttling(), 0)
}

func TestAWSDeploymentDefaultNeedsItsSettings(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = []string{"PAPERCLIP_SECRETS_PROVIDER=aws_secrets_manager", "PAPERCLIP_SECRETS_AWS_REGION=us-east-1"}
	code, _, errOut := e.run(t, "serve")
	if code != 2 || !strings.Contains(errOut, "PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID") || !strings.Contains(errOut, "PAPERCLIP_SECRETS_AWS_KMS_KEY_ID") {
		t.Fatalf("serve without the AWS settings: exit %d\n%s", code, errOut)
	}
}

// A company's AWS vault places its secrets under the vault's namespace, through the
// same endpoint setting as the deployment default; a secret's vault is fixed.
func TestAWSVaultPlacesSecrets(t *testing.T) {
	t.Parallel()
	e, fake := awsInstance(t)
	e.vars = append(e.vars, "PAPERCLIP_SECRETS_PROVIDER=local_encrypted", // the later setting wins
		"LEDGER_AWS_VAULTS=on")
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	vault := api.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "AWS team", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "team-ns"}}`).json(t)["id"].(string)

	// Asked for by id.
	sec := api.must(201, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "In vault", "value": "v", "providerConfigId": "`+vault+`"}`).json(t)
	if sec["provider"] != "aws_secrets_manager" || sec["providerConfigId"] != vault || !fake.Exists("paperclip/team-ns/"+companyA+"/in-vault") {
		t.Fatalf("placed in the vault: %v", sec)
	}
	// Without a vault: the deployment default (local_encrypted), until the vault is the
	// company's default for AWS and AWS is asked for.
	local := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Local", "value": "v"}`).json(t)
	if local["provider"] != "local_encrypted" || local["providerConfigId"] != nil {
		t.Fatalf("default placement: %v", local)
	}
	api.must(200, "POST", "/api/secret-provider-configs/"+vault+"/default", "")
	byDefault := api.must(201, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "By default", "value": "v", "provider": "aws_secrets_manager"}`).json(t)
	if byDefault["providerConfigId"] != vault || !fake.Exists("paperclip/team-ns/"+companyA+"/by-default") {
		t.Fatalf("placed by the company's default vault: %v", byDefault)
	}
	// The vault is fixed; another company cannot use it; a disabled vault takes nothing new.
	api.must(422, "PATCH", "/api/secrets/"+sec["id"].(string), `{"providerConfigId": "`+vault+`"}`)
	api.must(404, "POST", "/api/companies/"+companyB+"/secrets", `{"name": "Foreign", "value": "v", "providerConfigId": "`+vault+`"}`)
	api.must(200, "DELETE", "/api/secret-provider-configs/"+vault, "")
	api.must(422, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Late", "value": "v", "providerConfigId": "`+vault+`"}`)
	// Its secrets still resolve: disabling stops placement, not resolution.
	api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sec["id"].(string)+`", "targetType": "agent", "targetId": "a2", "configPath": "key"}`)
	key := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "a2"}`).json(t)["token"].(string)
	if v := e.client(t, key).must(200, "POST", "/api/runtime/resolve", `{}`).json(t)["values"].(map[string]any)["key"]; v != "v" {
		t.Fatalf("resolve from a disabled vault: %v", v)
	}
}
