package httpapi

import (
	"net/http"
	"testing"
)

// The providers list names the same set as the seeds' system: the deployment's
// providers, then gcp_secret_manager and vault as coming_soon (not configured, nothing
// supported), so a client reading it sees every provider a vault may name. A
// coming_soon vault is a draft: it is listed, never a default.
func TestProviderListShowsComingSoonProviders(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	var page struct{ Items []map[string]any }
	decodeJSON(t, s.do(newRequest(http.MethodGet, "/api/companies/"+companyA+"/secret-providers", ""), s.board), &page)
	want := []struct {
		id, status string
		configured bool
	}{{"local_encrypted", "ready", true}, {"gcp_secret_manager", "coming_soon", false}, {"vault", "coming_soon", false}}
	if len(page.Items) != len(want) {
		t.Fatalf("providers %v, want %d", page.Items, len(want))
	}
	for i, w := range want {
		p := page.Items[i]
		if p["id"] != w.id || p["status"] != w.status || p["configured"] != w.configured {
			t.Errorf("provider %d = %v, want %s %s configured=%v", i, p, w.id, w.status, w.configured)
		}
		if w.status == "coming_soon" && (p["supportsManagedValues"] != false || p["supportsExternalReferences"] != false || p["label"] == "") {
			t.Errorf("coming_soon provider %v claims support or has no label", p)
		}
	}

	rec := s.do(newRequest(http.MethodPost, "/api/companies/"+companyA+"/secret-provider-configs",
		`{"displayName": "GCP draft", "provider": "gcp_secret_manager", "isDefault": true}`), s.board)
	wantStatus(t, rec, 422, "a coming_soon vault as the default")
	var vault map[string]any
	decodeJSON(t, s.do(newRequest(http.MethodPost, "/api/companies/"+companyA+"/secret-provider-configs",
		`{"displayName": "GCP draft", "provider": "gcp_secret_manager"}`), s.board), &vault)
	if vault["status"] != "coming_soon" {
		t.Fatalf("draft vault %v", vault)
	}
}
