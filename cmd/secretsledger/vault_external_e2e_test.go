package main

import (
	"slices"
	"strings"
	"testing"
)

// vaultPolicyInstance is vaultInstance approving, for every company, the references
// whose name ([ns/]mount/path) starts with one of prefixes.
func vaultPolicyInstance(t *testing.T, prefixes string) *vaultTest {
	t.Helper()
	v := vaultInstance(t)
	v.e.vars = slices.DeleteFunc(v.e.vars, func(s string) bool { return strings.HasPrefix(s, "LEDGER_VAULT_EXTERNAL_PREFIXES=") })
	v.e.vars = append(v.e.vars, "LEDGER_VAULT_EXTERNAL_PREFIXES="+prefixes)
	return v
}

// External references to KV paths: linked reading metadata only, resolved at the latest
// version each time or at a pinned one; never a managed path or a secret whose custom
// metadata says the ledger manages it, even under an approved prefix; never outside the
// approved prefixes.
func TestVaultExternalReferences(t *testing.T) {
	t.Parallel()
	// secret/paperclip/ covers the managed root: the guardrail, not the approval, refuses it.
	v := vaultPolicyInstance(t, vaultMount+"/apps/,"+vaultMount+"/paperclip/")
	x1, x2, x3 := canary("ext-1"), canary("ext-2"), canary("ext-3")
	v.fake.Write("", vaultMount, "apps/billing/stripe", map[string]any{"value": x1})
	v.fake.Write("", vaultMount, "apps/billing/stripe", map[string]any{"value": x2})
	v.fake.Write("", vaultMount, "apps/copied", map[string]any{"value": "copied"})
	v.fake.SetCustomMetadata("", vaultMount, "apps/copied", map[string]string{"paperclip:managed-by": "paperclip"})
	v.fake.Write("", vaultMount, "other/thing", map[string]any{"value": "other"})
	s := v.e.serve(t)
	v.e.waitReady(t, s)
	api := v.e.client(t, v.e.instanceToken(t))
	secrets := "/api/companies/" + companyA + "/secrets"

	reads := v.fake.Calls("data.read")
	latest := api.must(201, "POST", secrets, linkBody("stripe latest", "apps/billing/stripe")).json(t)["id"].(string)
	pinned := api.must(201, "POST", secrets, `{"name": "stripe pinned", "managedMode": "external_reference",
		"externalRef": "apps/billing/stripe", "providerVersionRef": "1"}`).json(t)["id"].(string)
	if n := v.fake.Calls("data.read"); n != reads {
		t.Fatalf("linking read the data %d times", n-reads)
	}
	agent := agentFor(t, v.e, api, "ext", latest, map[string]int{"latest": 0})
	api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+pinned+`", "targetType": "agent", "targetId": "ext", "configPath": "pinned"}`)
	if got := resolved(t, agent); got["latest"] != x2 || got["pinned"] != x1 {
		t.Fatal("the references did not resolve their own versions")
	}
	// A change at Vault shows at the next resolution.
	v.fake.Write("", vaultMount, "apps/billing/stripe", map[string]any{"value": x3})
	if got := resolved(t, agent); got["latest"] != x3 || got["pinned"] != x1 {
		t.Fatal("the latest version at Vault did not show at once, or the pinned one moved")
	}

	vaultExternalRefusalsStep(t, v, api, secrets)
	if strings.Contains(api.seen.String()+s.stderr.String(), x1) {
		t.Fatal("a referenced value is in an answer other than resolve's, or in the server log")
	}
}

// vaultExternalRefusalsStep: a managed path (one the ledger wrote), a secret whose
// custom metadata says the ledger manages it, and a path outside the approved prefixes
// are refused; nothing is written.
func vaultExternalRefusalsStep(t *testing.T, v *vaultTest, api *apiClient, secrets string) {
	t.Helper()
	api.must(201, "POST", secrets, `{"name": "Managed", "value": "managed"}`)
	managed := vaultManagedPath(companyA, "managed")
	for ref, want := range map[string]string{managed: "provider_guardrail", "apps/copied": "provider_guardrail",
		"other/thing": "external_prefix_not_approved"} {
		r := api.must(422, "POST", secrets, linkBody("refused", ref))
		got := providerCodeOf(t, r)
		if want == "external_prefix_not_approved" {
			got = reasonOf(t, r)
		}
		if got != want {
			t.Fatalf("linking %s: %s, want %s", ref, r.body, want)
		}
	}
	if n := len(api.must(200, "GET", secrets, "").list(t)); n != 3 {
		t.Fatalf("%d secrets after the refusals, want the two links and the managed one", n)
	}
}
