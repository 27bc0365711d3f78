package vaultfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// request is one API call once its namespace is resolved.
type request struct {
	method string // GET, HEAD, LIST, POST, PUT, PATCH or DELETE
	nsPath string // the namespace the call addresses; "" is root
	ns     *namespace
	path   string // inside the namespace, as Vault routes it (LIST paths end in "/")
	query  url.Values
	body   map[string]any
	bad    error // the body is not a JSON object
	ctype  string
	token  string
	tok    *token // the authenticated token, for routes that need one
	now    time.Time
}

// response is an answer: status and JSON body (nil: none).
type response struct {
	status int
	body   any
}

// route is what serves a request: its op (for counters and faults), whether it needs a
// token, and the ACL check Vault makes before the handler runs.
type route struct {
	op     string
	public bool                  // logins: no token
	acl    func(*request) string // capability the token needs on req.path; nil: the handler checks
	handle func(*request) response
}

func (st *state) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		write(w, errResp(http.StatusNotFound), false)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req := newRequest(r, raw)
	hdrNS := cleanNS(r.Header.Get("X-Vault-Namespace"))

	st.mu.Lock()
	op := st.route(req, hdrNS, rel).op
	st.calls[op]++
	st.lastNS[op] = req.nsPath
	flt := st.takeFault(op)
	st.mu.Unlock()

	if flt != nil {
		if flt.delay > 0 {
			select {
			case <-time.After(flt.delay):
			case <-r.Context().Done():
				return
			}
		}
		if flt.status != 0 {
			write(w, errResp(flt.status, "injected"), r.Method == http.MethodHead)
			return
		}
	}

	st.mu.Lock()
	resp := st.serve(req, st.route(req, hdrNS, rel))
	st.mu.Unlock()
	write(w, resp, r.Method == http.MethodHead)
}

func newRequest(r *http.Request, raw []byte) *request {
	req := &request{method: r.Method, query: r.URL.Query(), ctype: r.Header.Get("Content-Type")}
	if list, err := strconv.ParseBool(req.query.Get("list")); err == nil && list && r.Method == http.MethodGet {
		req.method = "LIST"
	}
	req.token = r.Header.Get("X-Vault-Token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && req.token == "" {
		req.token = bearer
	}
	if len(bytes.TrimSpace(raw)) > 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&req.body); err != nil {
			req.bad = err
		}
	}
	if req.body == nil {
		req.body = map[string]any{}
	}
	return req
}

func (st *state) takeFault(op string) *fault {
	q := st.faults[op]
	if len(q) == 0 {
		return nil
	}
	f := *q[0]
	if q[0].n--; q[0].n <= 0 {
		st.faults[op] = q[1:]
	}
	return &f
}

// serve answers a request as Vault does: a sealed or inactive node refuses it, then the
// token and its ACL are checked, then the handler runs.
func (st *state) serve(req *request, rt route) response {
	req.now = st.clock()
	if rt.op == "health" {
		return rt.handle(req)
	}
	switch {
	case st.sealed || st.uninitialized:
		return errResp(http.StatusServiceUnavailable, "Vault is sealed")
	case (st.standby && !st.standbyForwards) || st.drSecondary:
		return errResp(http.StatusServiceUnavailable, "local node not active but active cluster node not found")
	case req.bad != nil:
		return errResp(http.StatusBadRequest, "failed to parse JSON input: "+req.bad.Error())
	}
	if !rt.public {
		req.tok = st.authenticate(req)
		if req.tok == nil {
			return denied()
		}
		if rt.acl != nil && !st.allowed(req.tok, req.nsPath, req.path, rt.acl(req)) {
			return denied()
		}
	}
	return rt.handle(req)
}

// route resolves the namespace (the header, then as many leading path segments as name
// child namespaces) and finds what serves the path in it.
func (st *state) route(req *request, hdrNS, rel string) route {
	if rel == "sys/health" {
		// sys/health is served outside the namespace-aware handler: a namespace header is
		// ignored.
		return route{op: "health", public: true, handle: st.health}
	}
	full := rel
	if hdrNS != "" {
		full = hdrNS + "/" + rel
	}
	segs := strings.Split(full, "/")
	ns, i := "", 0
	for ; i < len(segs)-1; i++ {
		cand := segs[i]
		if ns != "" {
			cand = ns + "/" + segs[i]
		}
		if st.namespaces[cand] == nil {
			break
		}
		ns = cand
	}
	req.nsPath, req.ns = ns, st.namespaces[ns]
	req.path = strings.Join(segs[i:], "/")
	if req.method == "LIST" && !strings.HasSuffix(req.path, "/") {
		req.path += "/"
	}
	if rt, ok := st.systemRoute(req); ok {
		return rt
	}
	if m, rest, ok := findMount(req.ns, req.path); ok {
		if m.version == 2 {
			return st.kv2Route(m, rest, req.method)
		}
		return st.kv1Route(m, rest, req.method)
	}
	return route{op: "unknown", acl: methodCapability, handle: func(req *request) response {
		return errResp(http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", req.path))
	}}
}

func (st *state) systemRoute(req *request) (route, bool) {
	p := req.path
	switch {
	case p == "sys/capabilities-self":
		return route{op: "capabilities", acl: methodCapability, handle: st.capabilitiesSelf}, true
	case strings.HasPrefix(p, "sys/internal/ui/mounts/"):
		return route{op: "mounts", handle: st.uiMount}, true
	case strings.HasPrefix(p, "sys/mounts/") && req.method == http.MethodGet:
		return route{op: "mounts", acl: methodCapability, handle: st.mountRead}, true
	case p == "auth/token/lookup-self":
		return route{op: "lookup-self", acl: methodCapability, handle: st.lookupSelf}, true
	case p == "auth/token/renew-self":
		return route{op: "renew-self", acl: methodCapability, handle: st.renewSelf}, true
	case p == "auth/token/revoke-self":
		return route{op: "revoke-self", acl: methodCapability, handle: st.revokeSelf}, true
	case p == "auth/approle/login":
		return route{op: "login.approle", public: true, handle: st.loginAppRole}, true
	case p == "auth/kubernetes/login":
		return route{op: "login.kubernetes", public: true, handle: st.loginKubernetes}, true
	}
	return route{}, false
}

// findMount returns the mount with the longest path that path is in, and the path
// inside it.
func findMount(ns *namespace, path string) (*mount, string, bool) {
	var best *mount
	for mp, m := range ns.mounts {
		if (path == mp || strings.HasPrefix(path, mp+"/")) && (best == nil || len(mp) > len(best.path)) {
			best = m
		}
	}
	if best == nil {
		return nil, "", false
	}
	return best, strings.TrimPrefix(path[len(best.path):], "/"), true
}

// methodCapability is the capability an HTTP method needs where no existence check
// turns a write into "create".
func methodCapability(req *request) string {
	switch req.method {
	case http.MethodGet, http.MethodHead:
		return "read"
	case "LIST":
		return "list"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return "update"
}

// envelope wraps data in Vault's response body.
func envelope(data any, warnings ...string) map[string]any {
	var w any
	if len(warnings) > 0 {
		w = warnings
	}
	return map[string]any{"request_id": uuid(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": data, "wrap_info": nil, "warnings": w, "auth": nil, "mount_type": ""}
}

func ok(data any) response { return response{status: http.StatusOK, body: envelope(data)} }

func noContent() response { return response{status: http.StatusNoContent} }

// errResp is Vault's error body; with no message it is {"errors":[]}, which Vault sends
// for a 404 on a path that holds nothing.
func errResp(status int, msgs ...string) response {
	if msgs == nil {
		msgs = []string{}
	}
	return response{status: status, body: map[string]any{"errors": msgs}}
}

func notFound() response { return errResp(http.StatusNotFound) }

func denied() response { return errResp(http.StatusForbidden, "permission denied") }

func badRequest(msg string) response { return errResp(http.StatusBadRequest, msg) }

func write(w http.ResponseWriter, resp response, head bool) {
	w.Header().Set("Cache-Control", "no-store")
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	b, err := json.Marshal(resp.body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	if !head {
		_, _ = w.Write(append(b, '\n'))
	}
}

// ts formats a time as Vault does (RFC 3339 with nanoseconds, UTC); the zero time is "".
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
