package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The policy routes answer as the OpenAPI document says (the stack checks every
// exchange): an instance token replaces and reads it, a company-limited token reads it
// and gets 403 with a reason on a replace, bad input is 422 with nothing written, and
// audit state shows it.
func TestExternalPolicyRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	path := "/api/companies/" + companyB + "/external-policy"
	var p struct {
		Set      bool     `json:"set"`
		Prefixes []string `json:"prefixes"`
		Version  int64    `json:"version"`
		SetBy    *string  `json:"setBy"`
	}
	if rec := s.do(newRequest(http.MethodGet, path, ""), s.boardB); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Set || p.SetBy != nil {
		t.Fatalf("GET before any: %d %s", rec.Code, rec.Body)
	}
	rec := s.do(newRequest(http.MethodPut, path, `{"prefixes": ["prod/"]}`), s.boardB)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"reason":"external_policy_instance_only"`) {
		t.Fatalf("PUT with a company-limited token: %d %s", rec.Code, rec.Body)
	}
	head := s.head()
	for _, body := range []string{`{"prefixes": ["*"]}`, `{"prefixes": [""]}`, `{"prefixes": ["a b/"]}`, `{"regions": ["mars"]}`,
		`{"prefixes": ["` + strings.Repeat("a", 513) + `"]}`, `{"prefixes": [` + strings.Repeat(`"p",`, 100) + `"p"]}`} {
		if rec := s.do(newRequest(http.MethodPut, path, body), s.board); rec.Code != 422 {
			t.Errorf("PUT %.60s: %d %s", body, rec.Code, rec.Body)
		}
	}
	if s.head() != head {
		t.Fatal("a refused policy wrote events")
	}
	rec = s.do(newRequest(http.MethodPut, path, `{"prefixes": ["team-b/"], "regions": ["eu-west-1"], "version": 0}`), s.board)
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &p) != nil || !p.Set || p.Version != 1 || p.Prefixes[0] != "team-b/" {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	if rec := s.do(newRequest(http.MethodPut, path, `{"prefixes": [], "version": 0}`), s.board); rec.Code != 409 {
		t.Fatalf("PUT with a stale version: %d %s", rec.Code, rec.Body)
	}
	if rec := s.do(newRequest(http.MethodGet, path, ""), s.agent); rec.Code != 403 {
		t.Fatalf("GET with an agent key: %d", rec.Code)
	}
	req := newRequest(http.MethodGet, "/api/companies/"+companyB+"/audit/state", "")
	req.URL.RawQuery = "position=" + strconv.FormatInt(s.head(), 10)
	var st struct {
		ExternalPolicy *struct{ Prefixes, Regions []string } `json:"externalPolicy"`
	}
	if rec := s.do(req, s.boardB); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.ExternalPolicy == nil ||
		st.ExternalPolicy.Regions[0] != "eu-west-1" {
		t.Fatalf("audit state: %d %s", rec.Code, rec.Body)
	}
}
