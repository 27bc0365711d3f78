package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Fuzz targets of everything a client sends: bodies, path ids, query parameters and
// headers. Each asserts the two promises of the API about bad input: it never gets a
// 5xx, and a refused request writes nothing. The seeds are the cases an outside probe
// found; `go test` runs them, `go test -fuzz FuzzX` explores from them.

// checkAnswer fails on a 5xx, on a refusal that appended, and on an error answer that
// is not the API's JSON error.
func checkAnswer(t *testing.T, s *stack, before int64, code int, body []byte, allowAppendOnFailure bool) {
	t.Helper()
	if code >= 500 {
		t.Fatalf("answer %d: %s", code, body)
	}
	if code >= 400 {
		var e errorBody
		if err := json.Unmarshal(body, &e); err != nil || e.Details.Code == "" {
			t.Fatalf("error answer %d is not a JSON error: %q", code, body)
		}
		if !allowAppendOnFailure && s.head() != before {
			t.Fatalf("refused with %d (%s) but appended to the log", code, body)
		}
	}
}

var bodyRoutes = []struct {
	method, path string
	agent        bool
}{
	{"POST", "/api/companies/" + companyA + "/secrets", false},
	{"POST", "/api/secrets/{secret}/rotate", false},
	{"PATCH", "/api/secrets/{secret}", false},
	{"POST", "/api/secrets/{secret}/purge", false},
	{"POST", "/api/companies/" + companyA + "/secret-bindings", false},
	{"PUT", "/api/companies/" + companyA + "/consumers/agent/x/env", false},
	{"POST", "/api/companies/" + companyA + "/agent-keys", false},
	{"POST", "/api/companies/" + companyA + "/event-subscribers", false},
	{"POST", "/api/runtime/resolve", true},
}

func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"env": null}`, `{"env": {}}`, `{"name": "a\u0000b", "value": "v"}`,
		`{"runId": "\u0000"}`, `{"issueId": "` + strings.Repeat("i", 300) + `"}`, "{\"name\": \"\xff\xfe\", \"value\": \"v\"}",
		`{"configPaths": ["a", "a", "env.X"]}`, `{"configPaths": ["` + strings.Repeat("p", 3000) + `"]}`,
		`{"configPaths": [` + strings.Repeat(`"p",`, 400) + `"q"]}`,
		`{"env": {"` + strings.Repeat("K", 3000) + `": {"type": "plain", "value": "v"}}}`,
		`{"env": {"API_TOKEN": {"type": "plain", "value": "\u0000"}}}`, `{"env": {"A\u0000": {"type": "plain", "value": "v"}}}`,
		`{"secretId": "\u0000", "targetType": "agent", "targetId": "x", "configPath": "p"}`,
		`{"targetType": "agent", "targetId": "` + strings.Repeat("t", 5000) + `"}`,
		`{"name": "n", "value": "v", "description": "` + strings.Repeat("d", 100000) + `"}`,
		`{"value": "v", "expectedLatestVersion": 99999999999}`, `{"confirm": "\u0000"}`, `{"label": "\u0000"}`,
		`{"status": "deleted"}`, `{"name": 5}`, `{"unknown": 1}`, `{} {}`,
	} {
		for i := range bodyRoutes {
			f.Add(i, seed)
		}
	}
	s := newStack(f)
	ids := s.fixtures()
	f.Fuzz(func(t *testing.T, route int, body string) {
		s := s.in(t)
		if route < 0 || route >= len(bodyRoutes) {
			return
		}
		rt := bodyRoutes[route]
		token := s.board
		if rt.agent {
			token = s.agent
		}
		before := s.head()
		rec := s.do(newRequest(rt.method, strings.ReplaceAll(rt.path, "{secret}", ids["secrets"]), body), token)
		checkAnswer(t, s, before, rec.Code, rec.Body.Bytes(), rt.agent)
	})
}

var idRoutes = []string{
	"GET /api/secrets/{}", "GET /api/secrets/{}/versions", "GET /api/secrets/{}/usage", "GET /api/secrets/{}/access-events",
	"POST /api/secrets/{}/rotate", "DELETE /api/secrets/{}", "POST /api/secrets/{}/restore", "DELETE /api/secret-bindings/{}",
	"DELETE /api/agent-keys/{}", "GET /api/companies/{}/secrets", "GET /api/companies/{}/events",
	"DELETE /api/companies/" + companyA + "/event-subscribers/{}", "GET /api/companies/" + companyA + "/consumers/agent/{}/env",
	"GET /api/companies/" + companyA + "/consumers/{}/x/env",
}

func FuzzPathID(f *testing.F) {
	for _, seed := range []string{"\x00", "\xff\xfe", "\xc0\xae", "..", "%00", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"01arz3ndektsv4rrffq69g5fav", "aaaaaaaa-0000-4000-8000-000000000001", strings.Repeat("Z", 26), strings.Repeat("x", 5000),
		"a/b", "agent", ""} {
		for i := range idRoutes {
			f.Add(i, seed)
		}
	}
	s := newStack(f)
	f.Fuzz(func(t *testing.T, route int, id string) {
		s := s.in(t)
		if route < 0 || route >= len(idRoutes) {
			return
		}
		method, tpl, _ := strings.Cut(idRoutes[route], " ")
		body := ""
		if method == http.MethodPost {
			body = `{"value": "v"}`
		}
		before := s.head()
		rec := s.do(newRequest(method, strings.ReplaceAll(tpl, "{}", id), body), s.board)
		checkAnswer(t, s, before, rec.Code, rec.Body.Bytes(), false)
	})
}

var queryRoutes = []string{
	"/api/companies/" + companyA + "/secrets", "/api/companies/" + companyA + "/secret-bindings",
	"/api/companies/" + companyA + "/access-events", "/api/companies/" + companyA + "/events",
	"/api/secrets/{secret}/versions", "/api/secrets/{secret}/usage", "/api/secrets/{secret}/access-events",
}

func FuzzQuery(f *testing.F) {
	for _, seed := range []string{"q=%00", "targetType=%00", "targetId=%FF%FE", "q=%C0%AE", "limit=0", "limit=1001",
		"limit=-1", "limit=abc", "limit=1000", "cursor=%00", "cursor=bm9wZQ", "cursor=WzFd", "cursor=WyJhIiwiYiJd",
		"before=-5", "before=99999999999999999999", "after=abc", "after=1", "q=" + strings.Repeat("q", 5000), "%zz=1", "a=%ZZ"} {
		for i := range queryRoutes {
			f.Add(i, seed)
		}
	}
	s := newStack(f)
	ids := s.fixtures()
	f.Fuzz(func(t *testing.T, route int, query string) {
		s := s.in(t)
		if route < 0 || route >= len(queryRoutes) {
			return
		}
		req := newRequest(http.MethodGet, strings.ReplaceAll(queryRoutes[route], "{secret}", ids["secrets"]), "")
		req.URL.RawQuery = query
		before := s.head()
		rec := s.do(req, s.board)
		checkAnswer(t, s, before, rec.Code, rec.Body.Bytes(), false)
	})
}

func FuzzHeaders(f *testing.F) {
	f.Add("key-1", "req-1")
	f.Add("\xff", "\xff")
	f.Add(strings.Repeat("k", 4000), strings.Repeat("r", 900_000))
	f.Add(strings.Repeat("k", 255), strings.Repeat("r", 256))
	f.Add("a b", "\x00")
	f.Add("", "")
	s := newStack(f)
	var n int
	f.Fuzz(func(t *testing.T, idemKey, requestID string) {
		s := s.in(t)
		n++
		req := newRequest(http.MethodPost, "/api/companies/"+companyA+"/secrets",
			`{"name": "fuzz `+strings.Repeat("x", n%7)+` `+itoa(n)+`", "value": "v"}`)
		req.Header["Idempotency-Key"] = []string{idemKey}
		req.Header["X-Request-Id"] = []string{requestID}
		before := s.head()
		rec := s.do(req, s.board)
		checkAnswer(t, s, before, rec.Code, rec.Body.Bytes(), false)
		if rec.Code >= 300 {
			return
		}
		// What reached the log is bounded, whatever the client sent.
		var meta struct {
			RequestID      string `json:"requestId"`
			IdempotencyKey string `json:"idempotencyKey"`
		}
		if err := s.pool.QueryRow(context.Background(), `SELECT metadata FROM ledger_log ORDER BY position DESC LIMIT 1`).
			Scan(&meta); err != nil {
			t.Fatal(err)
		}
		if len(meta.RequestID) > MaxHeaderID || len(meta.IdempotencyKey) > MaxHeaderID {
			t.Fatalf("the log holds a request id of %d bytes and a key of %d", len(meta.RequestID), len(meta.IdempotencyKey))
		}
		if len(strings.TrimSpace(idemKey)) > MaxHeaderID {
			t.Fatalf("an Idempotency-Key of %d bytes was accepted", len(idemKey))
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
