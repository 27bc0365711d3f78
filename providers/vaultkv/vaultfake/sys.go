package vaultfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// health answers sys/health: the status says the node's state (200 active, 429
// standby, 472 DR secondary, 473 performance standby, 501 not initialised, 503 sealed),
// each overridable with its *code query parameter, standby and performance standby
// answering activecode with standbyok / perfstandbyok.
func (st *state) health(req *request) response {
	if req.method != http.MethodGet && req.method != http.MethodHead {
		return errResp(http.StatusMethodNotAllowed, "unsupported operation")
	}
	code := func(name string, def int) int {
		if n, err := strconv.Atoi(req.query.Get(name)); err == nil {
			return n
		}
		return def
	}
	flag := func(name string) bool {
		v, present := req.query[name]
		if !present {
			return false
		}
		b, err := strconv.ParseBool(v[0])
		return v[0] == "" || (err == nil && b)
	}
	status := code("activecode", http.StatusOK)
	switch {
	case st.uninitialized:
		status = code("uninitcode", http.StatusNotImplemented)
	case st.sealed:
		status = code("sealedcode", http.StatusServiceUnavailable)
	case st.drSecondary:
		status = code("drsecondarycode", 472)
	case st.perfStandby && !flag("perfstandbyok"):
		status = code("performancestandbycode", 473)
	case st.standby && !st.perfStandby && !flag("standbyok"):
		status = code("standbycode", http.StatusTooManyRequests)
	}
	dr := "disabled"
	if st.drSecondary {
		dr = "secondary"
	}
	body := map[string]any{
		"initialized": !st.uninitialized, "sealed": st.sealed || st.uninitialized,
		"standby":             st.standby || st.perfStandby || st.sealed || st.uninitialized,
		"performance_standby": st.perfStandby, "replication_performance_mode": "disabled",
		"replication_dr_mode": dr, "server_time_utc": req.now.Unix(), "version": Version,
		"enterprise": false, "echo_duration_ms": 0, "clock_skew_ms": 0, "replication_primary_canary_age_ms": 0,
	}
	if !st.sealed && !st.uninitialized {
		body["cluster_name"], body["cluster_id"] = "vault-cluster-fake", "00000000-0000-0000-0000-000000000001"
	}
	return response{status: status, body: body}
}

// capabilitiesSelf answers sys/capabilities-self {"paths":[...]} (or the older
// {"path": ...}): each path → the token's capabilities on it, also at the top level as
// Vault answers sys/ paths, and "capabilities" when one path was asked.
func (st *state) capabilitiesSelf(req *request) response {
	paths, err := toStrings(req.body["paths"])
	if err == nil && len(paths) == 0 {
		paths, err = toStrings(req.body["path"])
	}
	if err != nil {
		return badRequest("error converting input for field \"paths\": " + err.Error())
	}
	if len(paths) == 0 {
		return badRequest("missing paths")
	}
	data := map[string]any{}
	for _, p := range paths {
		data[p] = st.capabilities(req.tok, req.nsPath, p)
	}
	if len(paths) == 1 {
		data["capabilities"] = data[paths[0]]
	}
	body := envelope(data)
	body["mount_type"] = "system"
	for k, v := range data {
		if _, taken := body[k]; !taken {
			body[k] = v
		}
	}
	return response{status: http.StatusOK, body: body}
}

// uiMount answers sys/internal/ui/mounts/<path>: the mount the path is in, when the
// token may use something under it; 403 otherwise, and for a path in no mount (so that
// it cannot be used to discover mounts).
func (st *state) uiMount(req *request) response {
	p := strings.TrimPrefix(req.path, "sys/internal/ui/mounts/")
	m, _, found := findMount(req.ns, strings.TrimSuffix(p, "/"))
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	if !found || !st.hasMountAccess(req.tok, req.nsPath, m.path+"/") {
		return errResp(http.StatusForbidden, fmt.Sprintf("preflight capability check returned 403, please ensure client's policies grant access to path %q", p))
	}
	return mountInfo(m, true)
}

// mountRead answers GET sys/mounts/<path> (the ACL needs read on it): the mount at
// exactly that path; 400 when there is none, as Vault answers.
func (st *state) mountRead(req *request) response {
	p := strings.Trim(strings.TrimPrefix(req.path, "sys/mounts/"), "/")
	m := req.ns.mounts[p]
	if m == nil {
		return badRequest(fmt.Sprintf("No secret engine mount at %s/", p))
	}
	return mountInfo(m, false)
}

func mountInfo(m *mount, withPath bool) response {
	data := map[string]any{
		"accessor": m.accessor, "config": map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
		"description": "key/value secret storage", "external_entropy_access": false, "local": false,
		"options": map[string]any{"version": strconv.Itoa(m.version)}, "plugin_version": "",
		"running_plugin_version": "v0.21.0+builtin", "running_sha256": "", "seal_wrap": false, "type": "kv", "uuid": m.uuid,
	}
	if withPath {
		data["path"] = m.path + "/"
	}
	body := envelope(data)
	body["mount_type"] = "system"
	return response{status: http.StatusOK, body: body}
}

// toStrings decodes Vault's comma-string-slice: a list of strings or "a,b".
func toStrings(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return strings.Split(v, ","), nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("not a string: %T", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a list of strings: %T", raw)
}
