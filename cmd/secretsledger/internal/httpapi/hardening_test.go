package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder, dst any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), dst); err != nil {
		t.Fatalf("answer %d %q: %v", rec.Code, rec.Body, err)
	}
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int, what string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("%s: %d %s, want %d", what, rec.Code, rec.Body, status)
	}
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	rec := s.do(newRequest(http.MethodPut, "/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV", "{}"), s.board)
	wantStatus(t, rec, http.StatusMethodNotAllowed, "PUT on a secret")
	if got := rec.Header().Get("Allow"); got != "GET, PATCH, DELETE" {
		t.Fatalf("Allow = %q", got)
	}
	rec = s.do(newRequest(http.MethodGet, "/api/runtime/resolve", ""), s.agent)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET resolve: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/nothing-here", ""), s.board), http.StatusNotFound, "unknown path")
}

func TestEnvPutNeedsAnExplicitEnv(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	path := "/api/companies/" + companyA + "/consumers/agent/x/env"
	wantStatus(t, s.do(newRequest(http.MethodPut, path, `{"env": {"LOG_LEVEL": {"type": "plain", "value": "info"}}}`), s.board), 200, "set")
	for _, body := range []string{`{}`, `{"env": null}`, ``} {
		before := s.head()
		wantStatus(t, s.do(newRequest(http.MethodPut, path, body), s.board), 400, "PUT "+body)
		if s.head() != before {
			t.Fatalf("PUT %s wrote", body)
		}
	}
	var got struct{ Env map[string]any }
	decodeJSON(t, s.do(newRequest(http.MethodGet, path, ""), s.board), &got)
	if len(got.Env) != 1 {
		t.Fatalf("env after refused PUTs: %v", got.Env)
	}
	got.Env = nil
	decodeJSON(t, s.do(newRequest(http.MethodPut, path, `{"env": {}}`), s.board), &got)
	if len(got.Env) != 0 {
		t.Fatalf("env after {\"env\": {}}: %v", got.Env)
	}
}

func TestLongEnvKeyIsInvalidNotAConflict(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	path := "/api/companies/" + companyA + "/consumers/agent/x/env"
	for _, n := range []int{197, 3000} {
		body := `{"env": {"` + strings.Repeat("K", n) + `": {"type": "plain", "value": "v"}}}`
		wantStatus(t, s.do(newRequest(http.MethodPut, path, body), s.board), http.StatusUnprocessableEntity, fmt.Sprintf("key of %d", n))
	}
	body := `{"env": {"` + strings.Repeat("K", 196) + `": {"type": "plain", "value": "v"}}}`
	wantStatus(t, s.do(newRequest(http.MethodPut, path, body), s.board), 200, "key of 196 (config path env.<key> of 200)")
}

func TestHeaderIDsAreBounded(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	create := func(key, requestID string) *httptest.ResponseRecorder {
		req := newRequest(http.MethodPost, "/api/companies/"+companyA+"/secrets", `{"name": "n`+fmt.Sprint(len(key), len(requestID))+`", "value": "v"}`)
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("X-Request-Id", requestID)
		return s.do(req, s.board)
	}
	before := s.head()
	wantStatus(t, create(strings.Repeat("k", 4000), "r"), 400, "4,000-byte Idempotency-Key")
	wantStatus(t, create("\xff", "r"), 400, "Idempotency-Key of invalid UTF-8")
	if s.head() != before {
		t.Fatal("a refused key wrote")
	}
	wantStatus(t, create("key-1", strings.Repeat("r", 900_000)), 201, "a 900 KB X-Request-Id")
	var requestID string
	if err := s.pool.QueryRow(context.Background(), `SELECT metadata->>'requestId' FROM ledger_log ORDER BY position DESC LIMIT 1`).
		Scan(&requestID); err != nil || !strings.HasPrefix(requestID, "req_") || len(requestID) > MaxHeaderID {
		t.Fatalf("stored request id %q (%v): want a fresh one", requestID, err)
	}
}

func TestListsPageWithCursors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for i := range 25 {
		wantStatus(t, s.do(newRequest(http.MethodPost, "/api/companies/"+companyA+"/secrets",
			fmt.Sprintf(`{"name": "s%02d", "value": "v"}`, i)), s.board), 201, "create")
	}
	seen := map[string]bool{}
	pages, next := 0, ""
	for {
		path := "/api/companies/" + companyA + "/secrets?limit=10"
		if next != "" {
			path += "&cursor=" + next
		}
		req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/secrets", "")
		req.URL.RawQuery = strings.SplitN(path, "?", 2)[1]
		var page struct {
			Items      []struct{ ID, Name string }
			NextCursor *string
		}
		decodeJSON(t, s.do(req, s.board), &page)
		pages++
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("%s twice", it.Name)
			}
			seen[it.ID] = true
		}
		if page.NextCursor == nil {
			break
		}
		next = *page.NextCursor
	}
	if len(seen) != 25 || pages != 3 {
		t.Fatalf("%d secrets over %d pages, want 25 over 3", len(seen), pages)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=bm9wZQ"} {
		req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/secrets", "")
		req.URL.RawQuery = q
		wantStatus(t, s.do(req, s.board), 400, q)
	}
}

type resolution struct {
	Env      map[string]string
	Values   map[string]string
	Manifest []struct{ ConfigPath, Outcome, Source string }
}

func TestResolveIsBoundedAndGroupsMisses(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	resolve := func(body string) *httptest.ResponseRecorder {
		return s.do(newRequest(http.MethodPost, "/api/runtime/resolve", body), s.agent)
	}
	many := make([]string, 257)
	for i := range many {
		many[i] = fmt.Sprintf(`"p%d"`, i)
	}
	before := s.head()
	wantStatus(t, resolve(`{"configPaths": [`+strings.Join(many, ",")+`]}`), 400, "257 paths")
	wantStatus(t, resolve(`{"configPaths": ["`+strings.Repeat("p", 201)+`"]}`), 400, "a path of 201")
	if s.head() != before {
		t.Fatal("a refused resolution wrote")
	}
	// 256 distinct paths (and duplicates, which collapse) are allowed; the misses are one event.
	wantStatus(t, resolve(`{"configPaths": [`+strings.Join(many[:256], ",")+`, "p0", "p1"]}`), 422, "256 unbound paths")
	if got := s.appendedSince(before); got != 1 {
		t.Fatalf("256 unbound paths appended %d events, want 1", got)
	}
	var path string
	if err := s.pool.QueryRow(context.Background(), `SELECT config_path FROM secret_access_events ORDER BY position DESC LIMIT 1`).
		Scan(&path); err != nil || strings.Count(path, ",") != 255 {
		t.Fatalf("the grouped access row holds %q (%v)", path, err)
	}
}

func TestPlainEnvValuesLeaveOnlyThroughAnAuditedResolution(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	wantStatus(t, s.do(newRequest(http.MethodPut, "/api/companies/"+companyA+"/consumers/agent/x/env",
		`{"env": {"API_TOKEN": {"type": "plain", "value": "plain-canary"}, "EMPTY": {"type": "plain", "value": ""}}}`), s.board), 200, "env")
	accessRows := func() []map[string]any {
		req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/access-events", "")
		var page struct{ Items []map[string]any }
		decodeJSON(t, s.do(req, s.board), &page)
		return page.Items
	}
	for _, body := range []string{`{}`, `{"configPaths": ["env.API_TOKEN"]}`} {
		before := len(accessRows())
		var res resolution
		rec := s.do(newRequest(http.MethodPost, "/api/runtime/resolve", body), s.agent)
		wantStatus(t, rec, 200, "resolve "+body)
		decodeJSON(t, rec, &res)
		if res.Env["API_TOKEN"] != "plain-canary" || res.Values["env.API_TOKEN"] != "plain-canary" {
			t.Fatalf("resolve %s: %+v", body, res)
		}
		rows := accessRows()
		found := false
		for _, r := range rows[:len(rows)-before] {
			if r["configPath"] == "env.API_TOKEN" && r["outcome"] == "resolved" && r["source"] == "inline" {
				found = true
			}
		}
		if !found {
			t.Fatalf("resolve %s: no inline access record among %v", body, rows[:len(rows)-before])
		}
		if strings.Contains(fmt.Sprint(rows), "plain-canary") {
			t.Fatal("an access record holds the value")
		}
	}
}

func TestDeletedSecretsAndAgentKeysAreListed(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ids := s.fixtures()
	wantStatus(t, s.do(newRequest(http.MethodDelete, "/api/secrets/"+ids["secrets"], ""), s.board), 200, "delete")
	list := func(path, query string) []map[string]any {
		req := newRequest(http.MethodGet, path, "")
		req.URL.RawQuery = query
		var page struct{ Items []map[string]any }
		rec := s.do(req, s.board)
		wantStatus(t, rec, 200, path+"?"+query)
		decodeJSON(t, rec, &page)
		return page.Items
	}
	secrets := "/api/companies/" + companyA + "/secrets"
	if live := list(secrets, ""); len(live) != 0 {
		t.Fatalf("live secrets after the delete: %v", live)
	}
	deleted := list(secrets, "deleted=true")
	if len(deleted) != 1 || deleted[0]["id"] != ids["secrets"] || deleted[0]["deletedAt"] == nil {
		t.Fatalf("deleted secrets: %v", deleted)
	}
	req := newRequest(http.MethodGet, secrets, "")
	req.URL.RawQuery = "deleted=maybe"
	wantStatus(t, s.do(req, s.board), 400, "deleted=maybe")
	// One deleted secret: 404 unless asked for with deleted=true, and never to another company's token.
	one := "/api/secrets/" + ids["secrets"]
	wantStatus(t, s.do(newRequest(http.MethodGet, one, ""), s.board), 404, "a deleted secret")
	req = newRequest(http.MethodGet, one, "")
	req.URL.RawQuery = "deleted=true"
	rec := s.do(req, s.board)
	wantStatus(t, rec, 200, "a deleted secret with deleted=true")
	var got map[string]any
	decodeJSON(t, rec, &got)
	if got["id"] != ids["secrets"] || got["deletedAt"] == nil {
		t.Fatalf("a deleted secret with deleted=true: %v", got)
	}
	req = newRequest(http.MethodGet, one, "")
	req.URL.RawQuery = "deleted=true"
	wantStatus(t, s.do(req, s.boardB), 404, "a deleted secret of company A to company B's token")
	req = newRequest(http.MethodGet, one, "")
	req.URL.RawQuery = "deleted=yes"
	wantStatus(t, s.do(req, s.board), 400, "deleted=yes")

	wantStatus(t, s.do(newRequest(http.MethodDelete, "/api/agent-keys/"+ids["agent-keys"], ""), s.board), 200, "revoke")
	keys := list("/api/companies/"+companyA+"/agent-keys", "limit=1")
	if len(keys) != 1 {
		t.Fatalf("one page of one key: %v", keys)
	}
	all := list("/api/companies/"+companyA+"/agent-keys", "")
	revoked := 0
	for _, k := range all {
		if _, leaked := k["tokenHash"]; leaked || k["tokenKeyedHash"] != nil {
			t.Fatal("an agent key listing holds its token hash")
		}
		if k["revokedAt"] != nil {
			revoked++
		}
	}
	if len(all) != 2 || revoked != 1 {
		t.Fatalf("agent keys: %v", all)
	}
}
