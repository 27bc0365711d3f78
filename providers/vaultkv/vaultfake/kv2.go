package vaultfake

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// invalidV2Path is the warning KV v2 answers (with a 404) for a path outside its API,
// e.g. a KV v1 style read.
const invalidV2Path = "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation."

// kv2Route routes a path inside a KV v2 mount: data/, metadata/, delete/, undelete/,
// destroy/, config.
func (st *state) kv2Route(m *mount, rest, method string) route {
	kind, key, _ := strings.Cut(rest, "/")
	post := method == http.MethodPost || method == http.MethodPut
	exists := func(*request) string {
		if m.v2[key] != nil {
			return "update"
		}
		return "create"
	}
	switch {
	case kind == "data" && method == http.MethodGet:
		return route{op: "data.read", acl: methodCapability, handle: func(r *request) response { return dataRead(m, key, r) }}
	case kind == "data" && post:
		return route{op: "data.write", acl: exists, handle: func(r *request) response { return dataWrite(m, key, r) }}
	case kind == "data" && method == http.MethodPatch:
		return route{op: "data.patch", acl: methodCapability, handle: func(r *request) response { return dataPatch(m, key, r) }}
	case kind == "data" && method == http.MethodDelete:
		return route{op: "data.delete", acl: methodCapability, handle: func(r *request) response { return dataDelete(m, key, r) }}
	case (kind == "delete" || kind == "undelete" || kind == "destroy") && post:
		return route{op: kind, acl: methodCapability, handle: func(r *request) response { return versionsOp(m, kind, key, r) }}
	case kind == "metadata":
		return metadataRoute(m, key, method, exists)
	case kind == "config" && key == "" && method == http.MethodGet:
		return route{op: "config.read", acl: methodCapability, handle: func(*request) response { return configRead(m) }}
	case kind == "config" && key == "" && post:
		return route{op: "config.write", acl: methodCapability, handle: func(r *request) response { return configWrite(m, r) }}
	case kind == "data" || kind == "metadata" || kind == "delete" || kind == "undelete" || kind == "destroy" || kind == "config":
		return route{op: "unknown", acl: methodCapability, handle: func(*request) response {
			return errResp(http.StatusMethodNotAllowed, "unsupported operation")
		}}
	}
	return route{op: "unknown", acl: methodCapability, handle: func(*request) response {
		return response{status: http.StatusNotFound, body: envelope(nil, invalidV2Path)}
	}}
}

// versionMeta is a version's metadata as data reads and writes carry it.
func versionMeta(n int, v *kvVersion, s *kvSecret) map[string]any {
	return map[string]any{"version": n, "created_time": ts(v.created), "deletion_time": ts(v.deletion),
		"destroyed": v.destroyed, "custom_metadata": customJSON(s.custom)}
}

func customJSON(c map[string]string) any {
	if c == nil {
		return nil
	}
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// dataRead answers GET data/<key>[?version=N]: a deleted or destroyed version answers
// 404 with its metadata and data null; no such version or key, 404 {"errors":[]}.
func dataRead(m *mount, key string, req *request) response {
	s := m.v2[key]
	if s == nil {
		return notFound()
	}
	n := s.current
	if q := req.query.Get("version"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil {
			return badRequest(fmt.Sprintf("error converting input %s for field \"version\": invalid syntax", q))
		}
		if v != 0 {
			n = v
		}
	}
	v := s.versions[n]
	if v == nil {
		return notFound()
	}
	md := versionMeta(n, v, s)
	if v.destroyed || v.deleted(req.now) {
		resp := envelope(map[string]any{"data": nil, "metadata": md})
		resp["mount_type"] = "kv"
		return response{status: http.StatusNotFound, body: resp}
	}
	return kvOK(map[string]any{"data": cloneData(v.data), "metadata": md})
}

func kvOK(data any) response {
	resp := envelope(data)
	resp["mount_type"] = "kv"
	return response{status: http.StatusOK, body: resp}
}

// checkCAS applies options.cas (which must equal the current version; 0 for a key with
// no version) and cas_required (the secret's or the mount's).
func checkCAS(m *mount, s *kvSecret, body map[string]any) *response {
	current, required := 0, m.cfg.casRequired
	if s != nil {
		current, required = s.current, required || s.casRequired
	}
	var casRaw any
	var casOK bool
	if opts, ok := body["options"].(map[string]any); ok {
		casRaw, casOK = opts["cas"]
	}
	switch {
	case casOK:
		cas, err := toInt(casRaw)
		if err != nil {
			r := badRequest("error parsing check-and-set parameter")
			return &r
		}
		if cas != current {
			r := badRequest("check-and-set parameter did not match the current version")
			return &r
		}
	case required:
		r := badRequest("check-and-set parameter required for this call")
		return &r
	}
	return nil
}

func dataWrite(m *mount, key string, req *request) response {
	raw, ok := req.body["data"]
	if !ok {
		return badRequest("no data provided")
	}
	data, ok := raw.(map[string]any)
	if !ok {
		return badRequest("data must be a JSON object")
	}
	if key == "" {
		return badRequest("missing path")
	}
	s := m.v2[key]
	if r := checkCAS(m, s, req.body); r != nil {
		return *r
	}
	if s == nil {
		s = newSecret(req.now)
		m.v2[key] = s
	}
	v := m.addVersion(s, data, req.now)
	return kvOK(versionMeta(s.current, v, s))
}

// dataPatch answers PATCH data/<key>: a JSON merge patch (RFC 7396) of the current
// version's data written as a new version; 404 when the current version is missing,
// deleted or destroyed.
func dataPatch(m *mount, key string, req *request) response {
	if r := requireMergePatch(req); r != nil {
		return *r
	}
	s := m.v2[key]
	if s == nil {
		return notFound()
	}
	if r := checkCAS(m, s, req.body); r != nil {
		return *r
	}
	v := s.versions[s.current]
	if v == nil || v.destroyed || v.deleted(req.now) {
		return notFound()
	}
	patch, ok := req.body["data"].(map[string]any)
	if !ok {
		return badRequest("no data provided")
	}
	merged, _ := mergePatch(cloneData(v.data), patch).(map[string]any)
	nv := m.addVersion(s, merged, req.now)
	return kvOK(versionMeta(s.current, nv, s))
}

func requireMergePatch(req *request) *response {
	mt, _, _ := mime.ParseMediaType(req.ctype)
	if mt != "application/merge-patch+json" {
		r := errResp(http.StatusUnsupportedMediaType, fmt.Sprintf("PATCH requires Content-Type of application/merge-patch+json, provided %q", req.ctype))
		return &r
	}
	return nil
}

// mergePatch applies an RFC 7396 merge patch: null removes a member, objects merge
// recursively, anything else replaces.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// dataDelete answers DELETE data/<key>: the current version is soft-deleted.
func dataDelete(m *mount, key string, req *request) response {
	s := m.v2[key]
	if s == nil {
		return noContent()
	}
	if v := s.versions[s.current]; v != nil && !v.destroyed && !v.deleted(req.now) {
		v.deletion = req.now
	}
	return noContent()
}

// versionsOp answers delete/, undelete/ and destroy/ with {"versions":[...]}; versions
// that do not exist are skipped.
func versionsOp(m *mount, kind, key string, req *request) response {
	versions, err := toInts(req.body["versions"])
	if err != nil {
		return badRequest("error converting input for field \"versions\": " + err.Error())
	}
	if len(versions) == 0 {
		return badRequest("no version number provided")
	}
	s := m.v2[key]
	if s == nil {
		return noContent()
	}
	for _, n := range versions {
		v := s.versions[n]
		if v == nil {
			continue
		}
		switch kind {
		case "delete":
			if !v.destroyed && !v.deleted(req.now) {
				v.deletion = req.now
			}
		case "undelete":
			if !v.destroyed {
				v.deletion = time.Time{}
			}
		case "destroy":
			v.destroyed = true
			v.data = nil
		}
	}
	return noContent()
}
