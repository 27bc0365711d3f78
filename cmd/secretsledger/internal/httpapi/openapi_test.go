package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi/openapitest"
	"github.com/secretsledger/secretsledger/queries"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// checker is the OpenAPI document's checker, loaded once for all tests.
func checker(t testing.TB) *openapitest.Checker {
	t.Helper()
	c, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkExchange fails t when a request and its answer do not match the OpenAPI
// document. A path the document does not know (a made-up one) is skipped, unless the
// server took it (the router's redirect of an unclean path, such as an empty segment,
// is not taking it).
func checkExchange(t testing.TB, sent openapitest.Exchange, rec *httptest.ResponseRecorder) {
	t.Helper()
	sent.Status, sent.Answer, sent.Answered = rec.Code, rec.Result().Header, rec.Body.Bytes()
	err := checker(t).Check(context.Background(), sent)
	if errors.Is(err, openapitest.ErrUnknownPath) {
		if rec.Code < 300 {
			t.Errorf("%s %q: answered %d, but the OpenAPI document has no such path", sent.Method, sent.URL.Path, rec.Code)
		}
		return
	}
	if err != nil {
		t.Errorf("OpenAPI: %v", err)
	}
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}

// fullRouter is the router with every optional part on; its handlers are never called.
func fullRouter() http.Handler {
	return NewRouter(Deps{Log: slog.New(slog.DiscardHandler), API: &API{
		Events: Events{Subscribers: fakeSubscribers{}, Reader: queries.Events{}}, Audit: Audit{Queries: audit.Log{}},
		Ledger: Ledger{Companies: queries.Companies{}, Status: &queries.Ledger{}}}})
}

// Every route the router registers is in the OpenAPI document, and every operation of
// the document is a route: a route added, removed or renamed without the document fails
// here.
func TestOpenAPIDocumentHasEveryRoute(t *testing.T) {
	t.Parallel()
	var routes []string
	err := fullRouter().(*mux.Router).Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if r.GetHandler() == nil {
			return nil // a subrouter's prefix, not a route
		}
		tpl, err := r.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := r.GetMethods()
		if err != nil {
			t.Errorf("route %s takes any method", tpl)
			return nil
		}
		for _, m := range methods {
			routes = append(routes, m+" "+tpl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range checker(t).Doc().Paths.Map() {
		for m := range item.Operations() {
			documented = append(documented, m+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	if len(routes) < 25 {
		t.Fatalf("only %d routes found in the router: %v", len(routes), routes)
	}
	for _, r := range routes {
		if _, found := slices.BinarySearch(documented, r); !found {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if _, found := slices.BinarySearch(routes, d); !found {
			t.Errorf("docs/openapi.yaml has %s, which the router does not", d)
		}
	}
}

// The document is served as JSON, without credentials, and is the document the tests
// hold the API to.
func TestOpenAPIIsServed(t *testing.T) {
	t.Parallel()
	for _, router := range []http.Handler{fullRouter(), NewRouter(Deps{Log: slog.New(slog.DiscardHandler)})} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil)
		router.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/openapi.json: %d %s", rec.Code, rec.Body)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
			t.Errorf("Cache-Control %q, want public with a max-age", cc)
		}
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if doc.OpenAPI != "3.1.0" || len(doc.Paths) != checker(t).Doc().Paths.Len() {
			t.Errorf("served openapi %q with %d paths, want 3.1.0 with %d", doc.OpenAPI, len(doc.Paths), checker(t).Doc().Paths.Len())
		}
		checkExchange(t, openapitest.Exchange{Method: req.Method, URL: req.URL, Header: req.Header}, rec)
	}
}

// The checker is not a rubber stamp: answers and accepted requests that break the
// document are caught.
func TestOpenAPICheckerCatchesMismatches(t *testing.T) {
	t.Parallel()
	c := checker(t)
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_1"}}
	ok := `{"ok":true}`
	secret := `{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","companyId":"` + companyA + `","key":"k","name":"n","description":"",` +
		`"provider":"local_encrypted","status":"active","managedMode":"paperclip_managed","externalRef":null,` +
		`"providerConfigId":null,"latestVersion":1,"createdBy":"board","createdAt":"2026-01-02T03:04:05Z",` +
		`"updatedAt":"2026-01-02T03:04:05Z","lastResolvedAt":null}`
	for _, tc := range []struct {
		name    string
		x       openapitest.Exchange
		wantErr bool
	}{
		{"a secret", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV"), Status: 200,
			Answer: jsonHeader, Answered: []byte(secret)}, false},
		{"a field the document lacks", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
			Status: 200, Answer: jsonHeader, Answered: []byte(strings.Replace(secret, `{`, `{"value":"x",`, 1))}, true},
		{"a status the operation does not list", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
			Status: 409, Answer: jsonHeader, Answered: []byte(`{"error":"x","details":{"code":"ECONFLICT"}}`)}, true},
		{"an error code of another status", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/x"), Status: 404,
			Answer: jsonHeader, Answered: []byte(`{"error":"x","details":{"code":"EBADREQUEST"}}`)}, true},
		{"an error", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/x"), Status: 404,
			Answer: jsonHeader, Answered: []byte(`{"error":"x","details":{"code":"ENOTFOUND"}}`)}, false},
		{"an accepted body the document refuses", openapitest.Exchange{Method: "POST", URL: u("/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV/purge"),
			Body: []byte(`{"confirm": 5}`), Status: 200, Answer: jsonHeader, Answered: []byte(ok)}, true},
		{"a refused body", openapitest.Exchange{Method: "POST", URL: u("/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV/purge"),
			Body: []byte(`{"confirm": 5}`), Status: 400, Answer: jsonHeader,
			Answered: []byte(`{"error":"x","details":{"code":"EBADREQUEST"}}`)}, false},
		{"an accepted limit out of range", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV/versions?limit=5000"),
			Status: 200, Answer: jsonHeader, Answered: []byte(`{"items":[],"nextCursor":null}`)}, true},
		{"an answer without X-Request-Id", openapitest.Exchange{Method: "GET", URL: u("/api/secrets/x"), Status: 404,
			Answer: http.Header{"Content-Type": {"application/json"}}, Answered: []byte(`{"error":"x","details":{"code":"ENOTFOUND"}}`)}, true},
		{"a resolution without no-store", openapitest.Exchange{Method: "POST", URL: u("/api/runtime/resolve"), Status: 200,
			Answer: jsonHeader, Answered: []byte(`{"env":{},"values":{},"manifest":[]}`)}, true},
		{"a wrong method without 405", openapitest.Exchange{Method: "PUT", URL: u("/api/runtime/resolve"), Status: 404,
			Answer: jsonHeader, Answered: []byte(`{"error":"x","details":{"code":"ENOTFOUND"}}`)}, true},
		{"a wrong method", openapitest.Exchange{Method: "PUT", URL: u("/api/runtime/resolve"), Status: 405,
			Answer:   http.Header{"Content-Type": {"application/json"}, "Allow": {"POST"}, "X-Request-Id": {"req_1"}},
			Answered: []byte(`{"error":"x","details":{"code":"EMETHOD"}}`)}, false},
	} {
		err := c.Check(context.Background(), tc.x)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: got %v, want an error: %v", tc.name, err, tc.wantErr)
		}
	}
}

// The answers no other in-process test asks for match the document too: a restore, the
// probes, and a wrong method.
func TestOpenAPIRestoreAndProbes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id := s.fixtures()["secrets"]
	wantStatus(t, s.do(newRequest(http.MethodDelete, "/api/secrets/"+id, ""), s.board), 200, "delete")
	wantStatus(t, s.do(newRequest(http.MethodPost, "/api/secrets/"+id+"/restore", "{}"), s.board), 200, "restore")
	wantStatus(t, s.do(newRequest(http.MethodPost, "/api/secrets/"+id+"/restore", ""), s.board), 409, "restore again")
	wantStatus(t, s.do(newRequest(http.MethodGet, "/healthz", ""), ""), 200, "healthz")
	wantStatus(t, s.do(newRequest(http.MethodGet, "/readyz", ""), ""), 200, "readyz")
	wantStatus(t, s.do(newRequest(http.MethodPost, "/healthz", ""), ""), 405, "POST /healthz")
}
