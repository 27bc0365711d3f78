package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

func TestCompanyAccessEventsFilter(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ids := s.fixtures()
	start := time.Now().UTC().Add(-time.Second)
	// One resolved read of the bound secret and one miss, both by agent/x.
	wantStatus(t, s.do(newRequest(http.MethodPost, "/api/runtime/resolve", `{}`), s.agent), 200, "resolve")
	wantStatus(t, s.do(newRequest(http.MethodPost, "/api/runtime/resolve", `{"configPaths": ["nothing.here"]}`), s.agent), 422, "miss")
	list := func(q url.Values) []map[string]any {
		t.Helper()
		req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/access-events", "")
		req.URL.RawQuery = q.Encode()
		var page struct{ Items []map[string]any }
		decodeJSON(t, s.do(req, s.board), &page)
		return page.Items
	}
	if all := list(url.Values{}); len(all) != 2 {
		t.Fatalf("unfiltered: %v, want 2 rows", all)
	}
	for name, q := range map[string]url.Values{
		"secret":   {"secretId": {ids["secrets"]}},
		"resolved": {"outcome": {"resolved"}},
		"both":     {"consumer": {"agent/x"}, "outcome": {"resolved"}, "from": {start.Format(time.RFC3339)}},
	} {
		rows := list(q)
		if len(rows) != 1 || rows[0]["outcome"] != "resolved" || rows[0]["secretId"] != ids["secrets"] {
			t.Fatalf("%s: %v", name, rows)
		}
	}
	for _, outcome := range []string{"failed", "binding_missing"} {
		if rows := list(url.Values{"outcome": {outcome}}); len(rows) != 1 || rows[0]["configPath"] != "nothing.here" {
			t.Fatalf("%s: %v", outcome, rows)
		}
	}
	for name, q := range map[string]url.Values{
		"other consumer": {"consumer": {"agent/y"}},
		"before start":   {"to": {start.Add(-time.Hour).Format(time.RFC3339)}},
		"after now":      {"from": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}},
	} {
		if rows := list(q); len(rows) != 0 {
			t.Fatalf("%s: %v, want none", name, rows)
		}
	}
	for name, q := range map[string]string{
		"bad outcome":  "outcome=won",
		"bad secret":   "secretId=not-a-ulid",
		"bad consumer": "consumer=agent",
		"bad time":     "from=yesterday",
	} {
		req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/access-events", "")
		req.URL.RawQuery = q
		wantStatus(t, s.do(req, s.board), 400, name)
	}
}

func TestOnBehalfOfPassesTheSameChecksAsAToken(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.fixtures()
	call := func(a actor.Actor, path string) int {
		req := newRequest(http.MethodGet, path, "").WithContext(OnBehalfOf(context.Background(), a))
		return s.do(req, "").Code
	}
	board := actor.Actor{Type: actor.Board, ID: "tok_console"}
	if code := call(board, "/api/companies/"+companyA+"/secrets"); code != 200 {
		t.Fatalf("board on behalf: %d", code)
	}
	scoped := actor.Actor{Type: actor.Board, ID: "tok_b", Companies: []string{companyB}}
	if code := call(scoped, "/api/companies/"+companyA+"/secrets"); code != 404 {
		t.Fatalf("a token of company B reading company A: %d, want 404", code)
	}
	agent := actor.Actor{Type: actor.Agent, ID: "key"}
	if code := call(agent, "/api/companies/"+companyA+"/secrets"); code != 403 {
		t.Fatalf("an agent on a board route: %d, want 403", code)
	}
	// Without it and without a token, nothing is admitted.
	if code := s.do(newRequest(http.MethodGet, "/api/companies/"+companyA+"/secrets", ""), "").Code; code != 401 {
		t.Fatalf("no credentials: %d, want 401", code)
	}
}
