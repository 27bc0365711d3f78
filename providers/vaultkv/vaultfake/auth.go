package vaultfake

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// maxTTLFactor bounds renewals: a token lives at most this many times its first TTL
// after its creation (Vault's max_ttl), then its holder must log in again.
const maxTTLFactor = 3

type token struct {
	id, accessor string
	ns           string
	policy       Policy
	policies     []string // the names lookup-self and logins report
	root         bool
	path         string // the auth path that created it
	displayName  string
	meta         map[string]string
	ttl          time.Duration // the first TTL; 0 never expires
	issued       time.Time
	expires      time.Time // zero: never
	maxExpires   time.Time
	renewable    bool
	revoked      bool
}

type appRole struct {
	secretID string
	policy   Policy
	ttl      time.Duration
}

type k8sRole struct {
	jwt    string
	policy Policy
	ttl    time.Duration
}

func (st *state) newToken(now time.Time, ns, path string, policy Policy, ttl time.Duration, renewable bool) *token {
	st.policySeq++
	t := &token{id: "hvs." + randomString(24), accessor: randomString(24), ns: ns, policy: maps.Clone(policy),
		policies: []string{"default", fmt.Sprintf("policy-%d", st.policySeq)}, path: path, displayName: "token",
		ttl: ttl, issued: now, renewable: renewable && ttl > 0}
	if ttl > 0 {
		t.expires, t.maxExpires = now.Add(ttl), now.Add(maxTTLFactor*ttl)
	}
	st.tokens[t.id] = t
	return t
}

// authenticate returns the request's token when it is known, neither revoked nor
// expired, and belongs to the request's namespace or a parent of it.
func (st *state) authenticate(req *request) *token {
	t := st.tokens[req.token]
	if t == nil || t.revoked || (!t.expires.IsZero() && !req.now.Before(t.expires)) {
		return nil
	}
	if _, ok := relNS(t.ns, req.nsPath); !ok {
		return nil
	}
	return t
}

// seconds is a duration as Vault's TTL fields carry it.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	// Vault truncates: a TTL it reports is never longer than the token has left. A
	// token with less than a second left still reads 1, not 0 (which means "never
	// expires").
	return max(int(d/time.Second), 1)
}

// lookupSelf answers auth/token/lookup-self. Vault echoes the token's own id in "id",
// and so does the fake: whoever logs this answer logs the token.
func (st *state) lookupSelf(req *request) response {
	t := req.tok
	var expire any
	ttl := 0
	if !t.expires.IsZero() {
		expire, ttl = ts(t.expires), seconds(t.expires.Sub(req.now))
	}
	var meta any
	if t.meta != nil {
		meta = t.meta
	}
	data := map[string]any{
		"accessor": t.accessor, "creation_time": t.issued.Unix(), "creation_ttl": seconds(t.ttl),
		"display_name": t.displayName, "entity_id": "", "expire_time": expire, "explicit_max_ttl": 0,
		"id": t.id, "issue_time": ts(t.issued), "meta": meta, "num_uses": 0, "orphan": true, "path": t.path,
		"policies": slices.Clone(t.policies), "renewable": t.renewable, "ttl": ttl, "type": "service",
	}
	if t.ns != "" {
		data["namespace_path"] = t.ns + "/"
	}
	resp := ok(data)
	resp.body.(map[string]any)["mount_type"] = "token"
	return resp
}

// renewSelf answers auth/token/renew-self {"increment": seconds}: the token lives
// increment (else its first TTL) from now, capped at its max TTL; once capped the
// answer says renewable false and the holder must log in again.
func (st *state) renewSelf(req *request) response {
	t := req.tok
	if !t.renewable {
		return badRequest("lease is not renewable")
	}
	inc, err := toDuration(req.body["increment"])
	if err != nil {
		return badRequest("error parsing increment: " + err.Error())
	}
	if inc <= 0 {
		inc = t.ttl
	}
	var warnings []string
	exp := req.now.Add(inc)
	if exp.After(t.maxExpires) {
		exp = t.maxExpires
		warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly",
			inc.String(), t.maxExpires.Sub(req.now).Truncate(time.Second).String()))
	}
	t.expires = exp
	return authResponse(t, req.now, exp.Before(t.maxExpires), warnings...)
}

func authResponse(t *token, now time.Time, renewable bool, warnings ...string) response {
	lease := 0
	if !t.expires.IsZero() {
		lease = seconds(t.expires.Sub(now))
	}
	var meta any
	if t.meta != nil {
		meta = t.meta
	}
	body := envelope(nil, warnings...)
	body["auth"] = map[string]any{
		"client_token": t.id, "accessor": t.accessor, "policies": slices.Clone(t.policies),
		"token_policies": slices.Clone(t.policies), "identity_policies": nil, "metadata": meta,
		"lease_duration": lease, "renewable": renewable, "entity_id": "", "token_type": "service",
		"orphan": true, "mfa_requirement": nil, "num_uses": 0,
	}
	return response{status: http.StatusOK, body: body}
}

func (st *state) revokeSelf(req *request) response {
	req.tok.revoked = true
	return noContent()
}

// loginAppRole answers auth/approle/login {"role_id","secret_id"} in the request's
// namespace.
func (st *state) loginAppRole(req *request) response {
	if req.method != http.MethodPost && req.method != http.MethodPut {
		return errResp(http.StatusMethodNotAllowed, "unsupported operation")
	}
	roleID, _ := req.body["role_id"].(string)
	secretID, _ := req.body["secret_id"].(string)
	if roleID == "" {
		return badRequest("missing role_id")
	}
	r := st.approles[req.nsPath][roleID]
	if r == nil || secretID == "" || secretID != r.secretID {
		return badRequest("invalid role or secret ID")
	}
	t := st.newToken(req.now, req.nsPath, "auth/approle/login", r.policy, r.ttl, true)
	t.displayName = "approle"
	return authResponse(t, req.now, t.renewable)
}

// loginKubernetes answers auth/kubernetes/login {"role","jwt"} in the request's
// namespace; the JWT must be the one registered for the role.
func (st *state) loginKubernetes(req *request) response {
	if req.method != http.MethodPost && req.method != http.MethodPut {
		return errResp(http.StatusMethodNotAllowed, "unsupported operation")
	}
	role, _ := req.body["role"].(string)
	jwt, _ := req.body["jwt"].(string)
	switch {
	case role == "":
		return badRequest("missing role")
	case jwt == "":
		return badRequest("missing jwt")
	}
	r := st.k8sRoles[req.nsPath][role]
	if r == nil {
		return badRequest(fmt.Sprintf("invalid role name %q", role))
	}
	if jwt != r.jwt {
		return denied()
	}
	t := st.newToken(req.now, req.nsPath, "auth/kubernetes/login", r.policy, r.ttl, true)
	t.displayName = "kubernetes-" + role
	t.meta = map[string]string{"role": role, "service_account_name": "default", "service_account_namespace": "default"}
	return authResponse(t, req.now, t.renewable)
}
