package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

type route struct{ method, template string }

// apiRoutes lists every /api route of the router's own table.
func apiRoutes(t *testing.T, router http.Handler) []route {
	t.Helper()
	var out []route
	err := router.(*mux.Router).Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := r.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, "/api/") {
			return nil
		}
		methods, err := r.GetMethods()
		if err != nil {
			t.Errorf("route %s has no methods", tpl)
			return nil
		}
		for _, m := range methods {
			out = append(out, route{m, tpl})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fill puts real ids into a route template: {id} takes the id of what the segment
// before it names; a consumer is agent/y, whose key the fixtures make to revoke (the
// stack's own agent key, of agent/x, must survive a revoke of every key of it).
func fill(tpl string, ids map[string]string) string {
	parts := strings.Split(tpl, "/")
	for i, p := range parts {
		switch p {
		case "{companyId}":
			parts[i] = companyA
		case "{targetType}":
			parts[i] = "agent"
		case "{targetId}":
			parts[i] = "y"
		case "{id}":
			parts[i] = ids[parts[i-1]]
		}
	}
	return strings.Join(parts, "/")
}

// publicRoutes are the /api routes that need no credentials: they hold nothing of the
// ledger.
var publicRoutes = map[string]bool{"GET /api/openapi.json": true}

// instanceRoutes are the board routes of no one company: a token limited to other
// companies is admitted, and is told nothing of company A. (GET /api/ledger, the
// instance's own state, refuses company-limited tokens.)
var instanceRoutes = map[string]bool{"GET /api/companies": true}

// agentRoutes admit agent keys only.
var agentRoutes = map[string]bool{"/api/runtime/resolve": true, "/api/runtime/redact": true, "/api/runtime/changes": true}

// The authorization matrix: every route of the router × every kind of credential. A
// route added without an admission rule fails here.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	routes := apiRoutes(t, s.router)
	if len(routes) < 20 {
		t.Fatalf("only %d routes found in the router", len(routes))
	}
	for _, rt := range routes {
		agentRoute := agentRoutes[rt.template]
		ids := s.fixtures()
		path := fill(rt.template, ids)
		body := ""
		if rt.method != http.MethodGet && rt.method != http.MethodDelete {
			body = "{}"
		}
		expect := func(who, token string, ok func(int) bool, want string) {
			t.Helper()
			before := s.head()
			rec := s.do(newRequest(rt.method, path, body), token)
			if !ok(rec.Code) {
				t.Errorf("%s %s as %s: %d %s, want %s", rt.method, rt.template, who, rec.Code, rec.Body, want)
			}
			// A failed resolution is recorded (that is its audit); nothing else that is
			// refused may write.
			if rec.Code >= 400 && s.head() != before && !(agentRoute && token == s.agent) {
				t.Errorf("%s %s as %s: refused with %d but appended to the log", rt.method, rt.template, who, rec.Code)
			}
		}
		is := func(codes ...int) func(int) bool {
			return func(c int) bool {
				for _, want := range codes {
					if c == want {
						return true
					}
				}
				return false
			}
		}
		admitted := func(c int) bool { return c < 500 && c != 401 && c != 403 && c != 404 }
		if publicRoutes[rt.method+" "+rt.template] {
			for who, token := range map[string]string{"no credentials": "", "a bogus token": "brd_bogus",
				"a revoked board token": s.revoked, "an agent key": s.agent, "a board token": s.board} {
				expect(who, token, is(200), "200")
			}
			continue
		}
		expect("no credentials", "", is(401), "401")
		expect("a bogus token", "brd_bogus", is(401), "401")
		expect("an unknown agent key", "agk_bogus", is(401), "401")
		expect("a revoked board token", s.revoked, is(401), "401")
		if agentRoute {
			expect("a board token", s.board, is(403), "403")
			expect("a board token of another company", s.boardB, is(403), "403")
			expect("the agent key", s.agent, admitted, "admitted")
			continue
		}
		expect("an agent key", s.agent, is(403), "403")
		if instanceRoutes[rt.method+" "+rt.template] {
			expect("a board token of another company", s.boardB, admitted, "admitted")
			if rec := s.do(newRequest(rt.method, path, body), s.boardB); strings.Contains(rec.Body.String(), companyA) {
				t.Errorf("%s %s as a board token of another company: %s names company A", rt.method, rt.template, rec.Body)
			}
		} else {
			expect("a board token of another company", s.boardB, is(403, 404), "403 or 404")
		}
		expect("a board token", s.board, admitted, "admitted")
	}
}
