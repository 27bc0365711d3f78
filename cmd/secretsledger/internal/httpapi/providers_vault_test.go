package httpapi

import (
	"net/http"
	"testing"

	"github.com/secretsledger/secretsledger/providers"
)

// With a Vault session (vault not the default provider) vault is listed once, ready and
// configured, between the deployment's instances and the providers coming soon; the
// policy shows LEDGER_VAULT_EXTERNAL_PREFIXES beside AWS's.
func TestProviderListWithAVaultSession(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.api.Providers.VaultsOnly = []providers.Descriptor{{ID: providers.HashiCorpVault, Label: "HashiCorp Vault",
		SupportsManagedValues: true, SupportsExternalReferences: true, Configured: true}}
	s.api.Policies.InstanceVaultPrefixes = []string{"secret/apps/"}
	s.route()
	var page struct{ Items []map[string]any }
	decodeJSON(t, s.do(newRequest(http.MethodGet, "/api/companies/"+companyA+"/secret-providers", ""), s.board), &page)
	want := []struct{ id, status string }{{"local_encrypted", "ready"}, {"vault", "ready"}, {"gcp_secret_manager", "coming_soon"}}
	if len(page.Items) != len(want) {
		t.Fatalf("providers %v", page.Items)
	}
	for i, w := range want {
		if p := page.Items[i]; p["id"] != w.id || p["status"] != w.status || p["configured"] != (w.status == "ready") {
			t.Errorf("provider %d = %v, want %s %s", i, p, w.id, w.status)
		}
	}
	var pol map[string]any
	decodeJSON(t, s.do(newRequest(http.MethodGet, "/api/companies/"+companyA+"/external-policy", ""), s.board), &pol)
	if v, ok := pol["instanceVaultPrefixes"].([]any); !ok || len(v) != 1 || v[0] != "secret/apps/" {
		t.Fatalf("policy %v", pol)
	}
}
