package main

import (
	"strings"
	"testing"
)

// Writes at Vault behind the ledger's back: a rotation that would overwrite a foreign
// version is refused by check-and-set (a conflict, nothing lost), and a version deleted
// or destroyed at Vault resolves as the provider's not_found, recorded, never a 500.
// The value cache is off: a cached version (written or read within LEDGER_VAULT_CACHE_TTL)
// resolves from the cache, as AWS's do, whatever happened to it at Vault since.
func TestVaultBehindTheLedgersBack(t *testing.T) {
	t.Parallel()
	v := vaultInstance(t)
	v.e.vars = append(v.e.vars, "LEDGER_VAULT_CACHE_TTL=0")
	s := v.e.serve(t)
	v.e.waitReady(t, s)
	api := v.e.client(t, v.e.instanceToken(t))
	vaultRotationRefusedByCASStep(t, v, api)
	vaultDeletedAtVaultStep(t, v, api)
	vaultRowEditedStep(t, v, api)
}

// vaultRowEditedStep: someone with the runtime role's database credentials edits a
// vault vault's row to move its secrets under another prefix. The ledger builds the
// vault's instance from the company's authenticated log, so the next secret still goes
// to the vault's own managed root.
func vaultRowEditedStep(t *testing.T, v *vaultTest, api *apiClient) {
	t.Helper()
	vault := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "Team", "provider": "vault", "config": {}}`).json(t)["id"].(string)
	if out, err := v.e.psql(t, `UPDATE company_secret_provider_configs SET config = '{"secretPathPrefix": "stolen"}' WHERE id = '`+vault+`'`); err != nil {
		t.Fatalf("the edit as the runtime role: %v\n%s", err, out)
	}
	api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Routed", "value": "routed", "providerConfigId": "`+vault+`"}`)
	own := "paperclip/" + vault + "/" + companyA + "/routed"
	if sec := v.secretAt(t, own); sec.CurrentVersion != 1 {
		t.Fatalf("the secret is not at the vault's own managed root %s: %+v", own, sec)
	}
	for _, p := range v.fake.Paths("", vaultMount) {
		if strings.HasPrefix(p, "stolen/") {
			t.Fatalf("the edited row rerouted a secret to %s", p)
		}
	}
}

// vaultRotationRefusedByCASStep: a foreign version written at Vault after the ledger's
// makes the next rotation a 409 conflict; the foreign version stays the latest at
// Vault, the ledger's latest version is unchanged.
func vaultRotationRefusedByCASStep(t *testing.T, v *vaultTest, api *apiClient) {
	t.Helper()
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Stripe", "value": "ours-1"}`).json(t)["id"].(string)
	path := vaultManagedPath(companyA, "stripe")
	foreign := canary("foreign")
	if n := v.fake.Write("", vaultMount, path, map[string]any{"value": foreign}); n != 2 {
		t.Fatalf("the foreign write is version %d", n)
	}
	r := api.must(409, "POST", "/api/secrets/"+id+"/rotate", `{"value": "ours-2"}`)
	if code := providerCodeOf(t, r); code != "conflict" || strings.Contains(string(r.body), path) {
		t.Fatalf("the refused rotation: %s", r.body)
	}
	if sec := v.secretAt(t, path); sec.CurrentVersion != 2 || sec.Versions[2].Data["value"] != foreign || sec.Versions[1].Data["value"] != "ours-1" {
		t.Fatalf("after the refused rotation the fake holds current %d: %+v", sec.CurrentVersion, sec.Versions)
	}
	if got := api.must(200, "GET", "/api/secrets/"+id, "").json(t)["latestVersion"]; got != 1.0 {
		t.Fatalf("the ledger's latest version after the refused rotation: %v", got)
	}
	if n := len(api.must(200, "GET", "/api/secrets/"+id+"/versions", "").list(t)); n != 1 {
		t.Fatalf("%d versions in the ledger after the refused rotation", n)
	}
}

// vaultDeletedAtVaultStep: both versions resolve from Vault; then version 1 soft-deleted and version 2 destroyed at Vault: each
// binding's resolution fails with the provider's not_found (never a 500), and the
// access is recorded with that outcome.
func vaultDeletedAtVaultStep(t *testing.T, v *vaultTest, api *apiClient) {
	t.Helper()
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Gone", "value": "gone-1"}`).json(t)["id"].(string)
	api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "gone-2"}`)
	path := vaultManagedPath(companyA, "gone")
	pinned := agentFor(t, v.e, api, "pinned-agent", id, map[string]int{"pinned": 1})
	latest := agentFor(t, v.e, api, "latest-agent", id, map[string]int{"latest": 0})
	// Without the cache each resolution reads its KV version at Vault.
	reads := v.fake.Calls("data.read")
	if resolved(t, pinned)["pinned"] != "gone-1" || resolved(t, latest)["latest"] != "gone-2" || v.fake.Calls("data.read") < reads+2 {
		t.Fatalf("resolution before the deletions: %d data reads", v.fake.Calls("data.read")-reads)
	}
	v.fake.DeleteVersions("", vaultMount, path, 1)
	v.fake.DestroyVersions("", vaultMount, path, 2)
	for name, agent := range map[string]*apiClient{"pinned (soft-deleted)": pinned, "latest (destroyed)": latest} {
		r := agent.do("POST", "/api/runtime/resolve", `{}`)
		if r.status != 422 || !strings.Contains(string(r.body), "provider_error (not_found)") || strings.Contains(string(r.body), path) {
			t.Fatalf("resolving the %s version: %d %s", name, r.status, r.body)
		}
	}
	var accesses []map[string]any
	for _, a := range api.must(200, "GET", "/api/secrets/"+id+"/access-events", "").list(t) {
		if a["outcome"] != "resolved" {
			accesses = append(accesses, a)
		}
	}
	if len(accesses) != 2 {
		t.Fatalf("access events: %v", accesses)
	}
	for _, a := range accesses {
		if a["outcome"] != "failed" || a["errorCode"] != "provider_error" {
			t.Fatalf("access event: %v", a)
		}
	}
	// The log's events carry the provider's code.
	codes := 0
	for _, ev := range api.must(200, "GET", "/api/companies/"+companyA+"/events?after=0", "").list(t) {
		if p, _ := ev["payload"].(map[string]any); ev["type"] == "secret.accessed" && p["secretId"] == id && p["outcome"] != "resolved" {
			if p["outcome"] != "provider_error" || p["providerCode"] != "not_found" {
				t.Fatalf("secret.accessed: %v", p)
			}
			codes++
		}
	}
	if codes != 2 {
		t.Fatalf("%d secret.accessed events of the secret, want 2", codes)
	}
}
