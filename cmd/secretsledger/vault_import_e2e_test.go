package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Remote import from a vault vault through the real binary: the approved prefixes hold
// 150 importable secrets in nested folders (two pages), a secret the ledger manages by
// its custom metadata, and the managed roots of the deployment and of the vault; a
// folder outside the approvals is never listed. Preview and commit read no data; the
// imported secret resolves its value at Vault.
func TestVaultRemoteImportEndToEnd(t *testing.T) {
	t.Parallel()
	v := vaultPolicyInstance(t, vaultMount+"/team/,"+vaultMount+"/paperclip/")
	value := canary("vault-imported")
	for i := range 150 {
		v.fake.Write("", vaultMount, fmt.Sprintf("team/g%d/s%d/svc-%02d", i%5, i/5%3, i), map[string]any{"value": "team"})
	}
	v.fake.Write("", vaultMount, "team/g0/s0/svc-00", map[string]any{"value": value})
	v.fake.Write("", vaultMount, "team/legacy", map[string]any{"value": "legacy"})
	v.fake.SetCustomMetadata("", vaultMount, "team/legacy", map[string]string{"paperclip:managed-by": "paperclip"})
	for i := range 10 {
		v.fake.Write("", vaultMount, fmt.Sprintf("ops/db-%02d", i), map[string]any{"value": "ops"})
	}
	s := v.e.serve(t)
	v.e.waitReady(t, s)
	api := v.e.client(t, v.e.instanceToken(t))
	secrets := "/api/companies/" + companyA + "/secrets"
	api.must(201, "POST", secrets, `{"name": "Managed", "value": "managed"}`) // at the deployment's managed root
	// A vault on a KV version 1 mount can never hold a secret: refused when configured.
	v.fake.Mount("", "legacy", 1)
	refused := api.must(422, "POST", vaultsPath(companyA),
		`{"displayName": "Vault v1", "provider": "vault", "config": {"mountPath": "legacy"}}`)
	if !strings.Contains(string(refused.body), "KV version 1") {
		t.Fatalf("the refusal of a KV v1 mount says %s", refused.body)
	}
	vault := api.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "Vault team", "provider": "vault", "config": {"mountPath": "secret"}}`).json(t)["id"].(string)
	// A path under the vault's own managed root, written at Vault without custom metadata.
	v.fake.Write("", vaultMount, "paperclip/"+vault+"/"+companyA+"/stray", map[string]any{"value": "stray"})

	reads := v.fake.Calls("data.read")
	seen := vaultImportPreviewStep(t, v, api, vault)
	sid := vaultImportCommitStep(t, api, vault, seen)
	if n := v.fake.Calls("data.read"); n != reads {
		t.Fatalf("%d data reads during preview and commit", n-reads)
	}
	agent := agentFor(t, v.e, api, "imp", sid, map[string]int{"env": 0})
	if got := resolved(t, agent); got["env"] != value || v.fake.Calls("data.read") == reads {
		t.Fatal("the imported secret did not resolve its value at Vault")
	}
	for _, path := range []string{"/api/companies/" + companyA + "/events", "/api/secrets/" + sid, "/api/secrets/" + sid + "/versions"} {
		if strings.Contains(string(api.must(200, "GET", path, "").body), value) {
			t.Fatalf("%s shows the canary", path)
		}
	}
	if logs := s.stderr.String(); strings.Contains(logs, value) || strings.Contains(logs, v.token) {
		t.Fatal("the server log holds the canary or the token")
	}
}

// vaultImportPreviewStep pages through the preview: each importable secret once, as
// ready, in two pages; nothing outside the approvals, nothing managed. It returns the
// rows by external reference.
func vaultImportPreviewStep(t *testing.T, v *vaultTest, api *apiClient, vault string) map[string]importCandidate {
	t.Helper()
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
		if err := json.Unmarshal(api.must(200, "POST", "/api/companies/"+companyA+"/secrets/remote-import/preview", body).body, &page); err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Candidates {
			if _, dup := seen[c.ExternalRef]; dup {
				t.Fatalf("%s listed twice", c.ExternalRef)
			}
			if !strings.HasPrefix(c.ExternalRef, "team/g") || c.Status != "ready" || c.RemoteName != vaultMount+"/"+c.ExternalRef {
				t.Fatalf("listed %+v", c)
			}
			seen[c.ExternalRef] = c
		}
		if page.NextToken == nil {
			break
		}
		token = *page.NextToken
	}
	if len(seen) != 150 || pages != 2 || v.fake.Calls("metadata.list") < 2 {
		t.Fatalf("%d listed in %d pages, %d LIST calls", len(seen), pages, v.fake.Calls("metadata.list"))
	}
	return seen
}

// vaultImportCommitStep commits a batch: two references imported, a managed one
// refused by the guardrail. It returns the canary's secret.
func vaultImportCommitStep(t *testing.T, api *apiClient, vault string, seen map[string]importCandidate) string {
	t.Helper()
	batch := fmt.Sprintf(`{"providerConfigId": %q, "secrets": [{"externalRef": %q, "name": "Canary"}, {"externalRef": %q},
		{"externalRef": "team/legacy"}]}`, vault, seen["team/g0/s0/svc-00"].ExternalRef, seen["team/g1/s0/svc-01"].ExternalRef)
	var res struct {
		ImportedCount, SkippedCount, ErrorCount int
		Results                                 []struct{ Status, Reason, SecretID string }
	}
	if err := json.Unmarshal(api.must(200, "POST", "/api/companies/"+companyA+"/secrets/remote-import", batch).body, &res); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, r := range res.Results {
		got = append(got, r.Status+"/"+r.Reason)
	}
	if res.ImportedCount != 2 || res.ErrorCount != 1 || strings.Join(got, " ") != "imported/ imported/ error/provider_guardrail" {
		t.Fatalf("commit: %+v %v", res, got)
	}
	sec := api.must(200, "GET", "/api/secrets/"+res.Results[0].SecretID, "").json(t)
	if sec["provider"] != "vault" || sec["providerConfigId"] != vault || sec["externalRef"] != "team/g0/s0/svc-00" ||
		sec["managedMode"] != "external_reference" {
		t.Fatalf("the imported secret: %v", sec)
	}
	return res.Results[0].SecretID
}
