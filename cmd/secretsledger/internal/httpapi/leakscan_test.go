package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type scanAnswer struct {
	ScanID        string
	Position      int64
	ValuesChecked int
	Findings      []struct {
		SecretID, Encoding string
		Version, Line      int
	}
}

// The leak scan through the router (each exchange checked against the OpenAPI
// document): a finding answered and recorded without the value, shown in the secret's
// exposure; a body over 16 MiB (but not one over the general 1 MiB) refused with 413 and
// the 422s, none of them recorded; agent keys and other companies' tokens refused.
func TestLeakScanRoute(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ids := s.fixtures() // a secret of company A whose value is "fixture-value"
	path := "/api/companies/" + companyA + "/leak-scan"
	body := func(source, text string) string {
		b, _ := json.Marshal(map[string]any{"source": source, "text": text})
		return string(b)
	}
	head := s.head()
	rec := s.do(newRequest(http.MethodPost, path, body("run 1", "ok\nkey="+base64.StdEncoding.EncodeToString([]byte("fixture-value")))), s.board)
	wantStatus(t, rec, 200, "scan")
	var a scanAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || len(a.Findings) != 1 || a.Findings[0].SecretID != ids["secrets"] ||
		a.Findings[0].Encoding != "base64" || a.Findings[0].Line != 2 || a.Position <= head || rec.Header().Get("X-Ledger-Position") == "" {
		t.Fatalf("scan answer: %s %v", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), "fixture-value") || strings.Contains(rec.Body.String(), "Zml4dHVyZS12YWx1ZQ") {
		t.Fatal("the answer holds the value")
	}
	exp := s.do(newRequest(http.MethodGet, "/api/secrets/"+ids["secrets"]+"/exposure", ""), s.board)
	wantStatus(t, exp, 200, "exposure")
	if !strings.Contains(exp.Body.String(), `"scanId":"`+a.ScanID+`"`) || !strings.Contains(exp.Body.String(), `"encoding":"base64"`) {
		t.Fatalf("the exposure does not list the finding: %s", exp.Body)
	}
	req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/audit/export", "")
	req.URL.RawQuery = "secretId=" + ids["secrets"]
	export := s.do(req, s.board)
	wantStatus(t, export, 200, "the secret's audit export")
	if !strings.Contains(export.Body.String(), `"type":"secret.exposure_reported"`) || strings.Contains(export.Body.String(), "fixture-value") {
		t.Fatalf("the secret's audit export lacks its reported exposure (or holds the value): %s", export.Body)
	}

	big := strings.Repeat("transcript line\n", (2<<20)/16) // 2 MiB: over the general bound, under the scan's
	wantStatus(t, s.do(newRequest(http.MethodPost, path, body("big", big)), s.board), 200, "a 2 MiB scan")

	head = s.head()
	huge := strings.Repeat("x", MaxScanBodyBytes)
	for _, tc := range []struct {
		name, body, token string
		status            int
		reason            string
	}{
		{"over 16 MiB", body("huge", huge), s.board, 413, ""},
		{"a source holding the value", body("from Zml4dHVyZS12YWx1ZQ", "x"), s.board, 422, "scan_source_holds_value"},
		{"an empty source", body("", "x"), s.board, 422, "scan_source_invalid"},
		{"a source of 201 characters", body(strings.Repeat("é", 201), "x"), s.board, 422, "scan_source_invalid"},
		{"no text", `{"source": "s"}`, s.board, 400, ""},
		{"an agent key", body("s", "x"), s.agent, 403, ""},
		{"another company's token", body("s", "x"), s.boardB, 404, ""},
	} {
		rec := s.do(newRequest(http.MethodPost, path, tc.body), tc.token)
		wantStatus(t, rec, tc.status, tc.name)
		if tc.reason != "" && !strings.Contains(rec.Body.String(), `"reason":"`+tc.reason+`"`) {
			t.Errorf("%s: %s, want reason %s", tc.name, rec.Body, tc.reason)
		}
		if strings.Contains(rec.Body.String(), "fixture-value") {
			t.Errorf("%s: the answer holds the value", tc.name)
		}
	}
	if n := s.appendedSince(head); n != 0 {
		t.Fatalf("refused scans appended %d events", n)
	}
}
