package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// importCandidate is one row of a remote import preview.
type importCandidate struct {
	ExternalRef, RemoteName, Status string
	Importable                      bool
	Conflicts                       []struct{ Type string }
}

// remoteImport is what the steps of TestAWSRemoteImportEndToEnd share.
type remoteImport struct {
	e               *instanceEnv
	fake            *awsfake.Server
	api             *apiClient
	value           string // the canary team/svc-000 holds
	vault           string
	preview, commit string
	seen            map[string]importCandidate // the preview's rows by remote name
	sid             string                     // the imported canary's secret
	agent           *apiClient
}

// Remote import against the fake through the real binary: a vault pointing at the fake
// holds 250 secrets (180 importable across two prefixes, 20 in the vault's managed
// namespace, which are never listed, 25 scheduled for deletion, 25 named like ledger
// secrets).
func TestAWSRemoteImportEndToEnd(t *testing.T) {
	t.Parallel()
	e, fake := awsInstance(t)
	value := canary("imported")
	var seeds []awsfake.Seeded
	for i := range 90 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("team/svc-%03d", i), Value: "team"},
			awsfake.Seeded{Name: fmt.Sprintf("ops/db-%03d", i), Value: "ops"})
	}
	for i := range 20 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("paperclip/team-ns/%s/m-%02d", companyA, i), Value: "managed"})
	}
	for i := range 25 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("team/retired-%02d", i), Value: "old", Deleted: true},
			awsfake.Seeded{Name: fmt.Sprintf("shared/cfg-%02d", i), Value: "shared"})
	}
	seeds[0].Value = value // team/svc-000 holds the canary
	fake.Seed(seeds...)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	for i := range 25 {
		api.must(201, "POST", "/api/companies/"+companyA+"/secrets",
			fmt.Sprintf(`{"name": "shared/cfg-%02d", "value": "local", "provider": "local_encrypted"}`, i))
	}
	vault := api.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "AWS team", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "team-ns"}}`).json(t)["id"].(string)
	preview := "/api/companies/" + companyA + "/secrets/remote-import/preview"
	commit := "/api/companies/" + companyA + "/secrets/remote-import"
	im := &remoteImport{e: e, fake: fake, api: api, value: value, vault: vault, preview: preview, commit: commit}

	importPagingStep(t, im)
	importCLIPreviewStep(t, im)
	importMixedBatchStep(t, im)
	importResolvesTheAWSValueStep(t, im)
	importDeniedAndInventoryErrorsStep(t, im)

	// The canary left the ledger only in the one resolve response: not in the log,
	// the events API, the server's log or any other answer.
	sid := im.sid
	for _, path := range []string{"/api/companies/" + companyA + "/events", "/api/secrets/" + sid, "/api/secrets/" + sid + "/versions"} {
		if strings.Contains(string(api.must(200, "GET", path, "").body), value) {
			t.Fatalf("%s shows the canary", path)
		}
	}
	if logs := s.stderr.String(); strings.Contains(logs, value) || strings.Contains(logs, "team/svc-0") {
		t.Fatal("the server log holds the canary or remote names")
	}
}

// importPagingStep: paging visits every listed secret once, with the right status.
func importPagingStep(t *testing.T, im *remoteImport) {
	t.Helper()
	api, fake, vault, preview := im.api, im.fake, im.vault, im.preview
	seen := map[string]importCandidate{}
	token, pages := "", 0
	for {
		pages++
		body := `{"providerConfigId": "` + vault + `", "pageSize": 100}`
		if token != "" {
			body = `{"providerConfigId": "` + vault + `", "pageSize": 100, "nextToken": "` + token + `"}`
		}
		var page struct {
			Candidates []importCandidate
			NextToken  *string
		}
		if err := json.Unmarshal(api.must(200, "POST", preview, body).body, &page); err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Candidates {
			if _, dup := seen[c.RemoteName]; dup {
				t.Fatalf("%s listed twice", c.RemoteName)
			}
			seen[c.RemoteName] = c
		}
		if page.NextToken == nil {
			break
		}
		token = *page.NextToken
	}
	counts := map[string]int{}
	for name, c := range seen {
		kind := c.Status
		if len(c.Conflicts) > 0 {
			kind += ":" + c.Conflicts[0].Type
		}
		counts[kind]++
		if strings.HasPrefix(name, "team/retired-") || strings.HasPrefix(name, "paperclip/") {
			t.Fatalf("listed a secret scheduled for deletion or a managed one: %s", name)
		}
		if c.ExternalRef != name {
			t.Fatalf("the reference of %s is %s, not its name (an ARN shows the account)", name, c.ExternalRef)
		}
	}
	// One ListSecrets per page; the SDK may retry a call that a loaded machine answered
	// late, so the fake can count more requests than pages, never fewer.
	if len(seen) != 205 || counts["ready"] != 180 || counts["conflict:name"] != 25 || pages != 3 || fake.Calls("ListSecrets") < pages {
		t.Fatalf("%d listed: %v in %d pages, %d ListSecrets calls", len(seen), counts, pages, fake.Calls("ListSecrets"))
	}
	im.seen = seen
}

// importCLIPreviewStep: the CLI pages through a search and prints JSON.
func importCLIPreviewStep(t *testing.T, im *remoteImport) {
	t.Helper()
	e, vault := im.e, im.vault
	code, out, errOut := e.run(t, "secrets", "import", "preview", "-C", companyA, "--vault", vault, "--query", "ops",
		"--all-pages", "--page-size", "40", "--json")
	var cliPage struct{ Candidates []importCandidate }
	if code != 0 || json.Unmarshal([]byte(out), &cliPage) != nil || len(cliPage.Candidates) != 90 {
		t.Fatalf("cli preview: %d %s %.300s", code, errOut, out)
	}
}

// importMixedBatchStep: a mixed batch: imported, skipped and error rows; the CLI skips a
// reference already linked; neither reads a value.
func importMixedBatchStep(t *testing.T, im *remoteImport) {
	t.Helper()
	e, api, fake, vault, commit, seen := im.e, im.api, im.fake, im.vault, im.commit, im.seen
	canaryRef := seen["team/svc-000"].ExternalRef
	batch := fmt.Sprintf(`{"providerConfigId": %q, "secrets": [{"externalRef": %q, "name": "Canary"}, {"externalRef": %q},
		{"externalRef": "team/svc-001"}, {"externalRef": %q}, {"externalRef": %q}]}`, vault, canaryRef,
		fake.ARN("team/svc-001"), fake.ARN("paperclip/team-ns/"+companyA+"/m-01"), seen["shared/cfg-03"].ExternalRef)
	var res struct {
		ImportedCount, SkippedCount, ErrorCount int
		Results                                 []struct{ Status, Reason, SecretID string }
	}
	if err := json.Unmarshal(api.must(200, "POST", commit, batch).body, &res); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, r := range res.Results {
		got = append(got, r.Status+"/"+r.Reason)
	}
	if res.ImportedCount != 2 || res.SkippedCount != 1 || res.ErrorCount != 2 || strings.Join(got, " ") !=
		"imported/ imported/ skipped/batch_duplicate error/provider_guardrail error/name_conflict" {
		t.Fatalf("commit: %+v %v", res, got)
	}
	// The CLI skips a reference already linked.
	code, out, errOut := e.run(t, "secrets", "import", "commit", "-C", companyA, "--vault", vault, "--ref", "team/svc-001", "-o", "json")
	if code != 0 || !strings.Contains(out, "exact_reference_duplicate") {
		t.Fatalf("cli commit: %d %s %s", code, out, errOut)
	}
	if n := fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue"); n != 0 {
		t.Fatalf("%d value reads during preview and commit", n)
	}
	im.sid = res.Results[0].SecretID
}

// importResolvesTheAWSValueStep: bound to an agent, the imported secret resolves its AWS
// value; the access is recorded.
func importResolvesTheAWSValueStep(t *testing.T, im *remoteImport) {
	t.Helper()
	e, api, fake, value := im.e, im.api, im.fake, im.value
	sid := im.sid
	api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "imp", "configPath": "env.TOKEN"}`)
	key := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "imp"}`).json(t)["token"].(string)
	agent := e.client(t, key)
	resolved := agent.must(200, "POST", "/api/runtime/resolve", `{}`)
	// The value is read at AWS by the resolution (the SDK may retry a late answer).
	if resolved.json(t)["env"].(map[string]any)["TOKEN"] != value || fake.Calls("GetSecretValue") < 1 {
		t.Fatalf("resolve: %s", resolved.body)
	}
	accesses := api.must(200, "GET", "/api/secrets/"+sid+"/access-events", "").list(t)
	if len(accesses) != 1 || accesses[0]["outcome"] != "resolved" {
		t.Fatalf("access events: %v", accesses)
	}
	im.agent = agent
}

// importDeniedAndInventoryErrorsStep: denied at AWS after import: the expected failure,
// said as access_denied; agents cannot import; inventory errors are safe and carry the
// runbook's hint.
func importDeniedAndInventoryErrorsStep(t *testing.T, im *remoteImport) {
	t.Helper()
	api, fake, agent, vault, preview := im.api, im.fake, im.agent, im.vault, im.preview
	fake.Inject("GetSecretValue", awsfake.Error("AccessDeniedException"), 1)
	denied := agent.do("POST", "/api/runtime/resolve", `{}`)
	if denied.status != 422 || !strings.Contains(string(denied.body), "access_denied") {
		t.Fatalf("denied resolve: %d %s", denied.status, denied.body)
	}
	// Agents cannot import; inventory errors are safe and carry the runbook's hint.
	agent.must(403, "POST", preview, `{}`)
	fake.Inject("ListSecrets", awsfake.Error("AccessDeniedException"), 1)
	listDenied := api.must(403, "POST", preview, `{"providerConfigId": "`+vault+`"}`)
	if !strings.Contains(string(listDenied.body), "secretsmanager:ListSecrets") || strings.Contains(string(listDenied.body), awsfake.Account) {
		t.Fatalf("ListSecrets denied: %s", listDenied.body)
	}
}
