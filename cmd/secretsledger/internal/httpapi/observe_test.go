package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// logBuffer is a JSON log that tests read line by line.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns every log line; with msg, only those with that message.
func (b *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func newLog() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// observations records what a RequestObserver hears.
type observations struct {
	mu   sync.Mutex
	seen []string
}

func (o *observations) ObserveRequest(route, method string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, method+" "+route+" "+itoa(status))
}

var freshRequestID = regexp.MustCompile(`^req_[0-9A-Z]{26}$`)

// requestIDAt returns the metadata.requestId of the event at position.
func (s *stack) requestIDAt(position string) string {
	var id string
	if err := s.pool.QueryRow(context.Background(), `SELECT metadata->>'requestId' FROM ledger_log WHERE position = $1::bigint`,
		position).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	return id
}

func TestEveryRequestIsLoggedOnceWithItsRequestID(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	log, buf := newLog()
	obs := &observations{}
	lr := &loggedRouter{s: s, buf: buf, router: NewRouter(Deps{Log: log, Requests: obs, API: s.api})}

	// A good X-Request-Id is echoed and recorded in the event's metadata.
	secretID := lr.clientRequestIDKept(t)

	// A malformed one is replaced by a fresh id, echoed and recorded.
	lr.malformedRequestIDReplaced(t, secretID)

	// Errors, 404 and 405 carry an id too, and are logged with the route "unmatched"
	// when no route took them; an unauthenticated request has no actor.
	lr.unroutedRequestsLogged(t, secretID)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	wantSeen := []string{"POST /api/companies/{companyId}/secrets 201", "POST /api/secrets/{id}/rotate 200",
		"GET /api/companies/{companyId}/secrets 401", "GET unmatched 404", "PUT unmatched 405", "other unmatched 405"}
	if strings.Join(obs.seen, "\n") != strings.Join(wantSeen, "\n") {
		t.Fatalf("observed\n%s\nwant\n%s", strings.Join(obs.seen, "\n"), strings.Join(wantSeen, "\n"))
	}
}

// loggedRouter is a router whose request log is written to buf.
type loggedRouter struct {
	s      *stack
	buf    *logBuffer
	router http.Handler
}

func (lr *loggedRouter) do(req *http.Request, token string) *httptest.ResponseRecorder {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	lr.router.ServeHTTP(rec, req)
	return rec
}

// clientRequestIDKept creates a secret with a good X-Request-Id and returns its id.
func (lr *loggedRouter) clientRequestIDKept(t *testing.T) string {
	t.Helper()
	s, buf := lr.s, lr.buf
	req := newRequest(http.MethodPost, "/api/companies/"+companyA+"/secrets", `{"name": "logged", "value": "v-logged"}`)
	req.Header.Set("X-Request-Id", "trace-1:abc.DEF_2")
	rec := lr.do(req, s.board)
	wantStatus(t, rec, http.StatusCreated, "create")
	if got := rec.Header().Get("X-Request-Id"); got != "trace-1:abc.DEF_2" {
		t.Fatalf("X-Request-Id %q, want the client's", got)
	}
	if got := s.requestIDAt(rec.Header().Get("X-Ledger-Position")); got != "trace-1:abc.DEF_2" {
		t.Fatalf("event metadata requestId %q", got)
	}
	lines := buf.lines(t, "request")
	if len(lines) != 1 {
		t.Fatalf("%d request lines, want 1:\n%s", len(lines), buf)
	}
	l := lines[0]
	var sec struct{ ID string }
	decodeJSON(t, rec, &sec)
	a, err := s.api.Auth.Authenticate(context.Background(), s.board)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "INFO", "method": "POST", "route": "/api/companies/{companyId}/secrets", "status": float64(201),
		"bytes": float64(rec.Body.Len()), "request_id": "trace-1:abc.DEF_2", "actor_kind": actor.Board, "actor_id": a.ID}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log field %s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Errorf("log line has no duration_ms: %v", l)
	}
	if a.ID == "" || strings.Contains(buf.String(), s.board) || strings.Contains(buf.String(), "v-logged") {
		t.Fatalf("the log holds the token or the value, or the actor has no id:\n%s", buf)
	}
	return sec.ID
}

func (lr *loggedRouter) malformedRequestIDReplaced(t *testing.T, secretID string) {
	t.Helper()
	req := newRequest(http.MethodPost, "/api/secrets/"+secretID+"/rotate", `{"value": "v-logged-2"}`)
	req.Header.Set("X-Request-Id", "not a valid id!")
	rec := lr.do(req, lr.s.board)
	wantStatus(t, rec, http.StatusOK, "rotate")
	fresh := rec.Header().Get("X-Request-Id")
	if !freshRequestID.MatchString(fresh) {
		t.Fatalf("X-Request-Id %q, want a fresh req_<ULID>", fresh)
	}
	if got := lr.s.requestIDAt(rec.Header().Get("X-Ledger-Position")); got != fresh {
		t.Fatalf("event metadata requestId %q, want the echoed %q", got, fresh)
	}
	if lines := lr.buf.lines(t, "request"); len(lines) != 2 || lines[1]["request_id"] != fresh || lines[1]["route"] != "/api/secrets/{id}/rotate" {
		t.Fatalf("rotate's line: %v", lines)
	}
}

func (lr *loggedRouter) unroutedRequestsLogged(t *testing.T, secretID string) {
	t.Helper()
	s, buf := lr.s, lr.buf
	for _, c := range []struct {
		method, path, token, route string
		status                     int
	}{
		{http.MethodGet, "/api/companies/" + companyA + "/secrets", "", "/api/companies/{companyId}/secrets", http.StatusUnauthorized},
		{http.MethodGet, "/api/nope", s.board, UnmatchedRoute, http.StatusNotFound},
		{http.MethodPut, "/api/secrets/" + secretID, s.board, UnmatchedRoute, http.StatusMethodNotAllowed},
		{"BREW", "/healthz", "", UnmatchedRoute, http.StatusMethodNotAllowed},
	} {
		before := len(buf.lines(t, "request"))
		rec := lr.do(newRequest(c.method, c.path, ""), c.token)
		wantStatus(t, rec, c.status, c.method+" "+c.path)
		id := rec.Header().Get("X-Request-Id")
		lines := buf.lines(t, "request")
		if !freshRequestID.MatchString(id) || len(lines) != before+1 {
			t.Fatalf("%s %s: X-Request-Id %q, %d new lines", c.method, c.path, id, len(lines)-before)
		}
		l := lines[before]
		if l["request_id"] != id || l["route"] != c.route || l["status"] != float64(c.status) || l["actor_kind"] != "" {
			t.Errorf("%s %s: line %v", c.method, c.path, l)
		}
	}
}

func TestAPanicAnswers500AndTheServerKeepsServing(t *testing.T) {
	t.Parallel()
	log, buf := newLog()
	router := NewRouter(Deps{Log: log})
	router.(*mux.Router).HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	srv := httptest.NewServer(router)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || strings.TrimSpace(string(body)) != `{"error":"internal error","details":{"code":"EINTERNAL"}}` ||
		resp.Header.Get("Content-Type") != "application/json" || !freshRequestID.MatchString(resp.Header.Get("X-Request-Id")) {
		t.Fatalf("panic answered %d %q %v", resp.StatusCode, body, resp.Header)
	}
	panics := buf.lines(t, "panic serving a request")
	if len(panics) != 1 || panics[0]["level"] != "ERROR" || panics[0]["panic"] != "kaboom" ||
		!strings.Contains(panics[0]["stack"].(string), "observe_test.go") || panics[0]["request_id"] != resp.Header.Get("X-Request-Id") {
		t.Fatalf("panic log: %v", panics)
	}
	if lines := buf.lines(t, "request"); len(lines) != 1 || lines[0]["status"] != float64(500) || lines[0]["route"] != "/boom" {
		t.Fatalf("request lines: %v", lines)
	}

	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the panic: %d", resp.StatusCode)
	}
}

// cancellingAuth authenticates, then cancels the request, as a client that goes away
// while its request is being served.
type cancellingAuth struct {
	Authenticator
	cancel context.CancelFunc
}

func (a cancellingAuth) Authenticate(ctx context.Context, token string) (actor.Actor, error) {
	act, err := a.Authenticator.Authenticate(ctx, token)
	a.cancel()
	return act, err
}

func TestACancelledRequestIsNotAnError(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	log, buf := newLog()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := *s.api
	api.Auth = cancellingAuth{Authenticator: s.api.Auth, cancel: cancel}
	obs := &observations{}
	router := NewRouter(Deps{Log: log, Requests: obs, API: &api})

	rec := httptest.NewRecorder()
	req := newRequest(http.MethodGet, "/api/companies/"+companyA+"/secrets", "").WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+s.board)
	router.ServeHTTP(rec, req)

	for _, l := range buf.lines(t, "") {
		if l["level"] == "ERROR" || l["level"] == "WARN" {
			t.Errorf("a cancelled request logged %v", l)
		}
	}
	lines := buf.lines(t, "request")
	if len(lines) != 1 || lines[0]["level"] != "DEBUG" || lines[0]["status"] != float64(StatusClientClosed) || lines[0]["actor_kind"] != actor.Board {
		t.Fatalf("request lines: %v\n%s", lines, buf)
	}
	if rec.Body.Len() != 0 {
		t.Fatalf("a body was written for a client that went away: %q", rec.Body)
	}
	if len(obs.seen) != 1 || obs.seen[0] != "GET /api/companies/{companyId}/secrets 499" {
		t.Fatalf("observed %v", obs.seen)
	}
}

func TestMetricsAreServedWithoutAuthentication(t *testing.T) {
	t.Parallel()
	log, buf := newLog()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "a_metric 1\n") })
	code, body := getText(t, NewRouter(Deps{Log: log, Metrics: metrics}), "/metrics")
	if code != http.StatusOK || body != "a_metric 1\n" {
		t.Fatalf("/metrics: %d %q", code, body)
	}
	if lines := buf.lines(t, "request"); len(lines) != 1 || lines[0]["level"] != "DEBUG" || lines[0]["route"] != "/metrics" {
		t.Fatalf("a scrape is logged at debug: %v", lines)
	}
	if code, _ := getText(t, NewRouter(Deps{Log: log}), "/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics without Metrics: %d", code)
	}
}

func getText(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}
