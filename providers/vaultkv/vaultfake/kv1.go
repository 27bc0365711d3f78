package vaultfake

import "net/http"

// kv1TTL is the lease_duration KV v1 reads carry (the mount's default, 768h).
const kv1TTL = 2764800

// kv1Route routes a path inside a KV version 1 mount: the secret is the path itself,
// one value, no versions.
func (st *state) kv1Route(m *mount, key, method string) route {
	switch method {
	case http.MethodGet:
		return route{op: "kv1.read", acl: methodCapability, handle: func(*request) response {
			data := m.v1[key]
			if data == nil {
				return notFound()
			}
			resp := envelope(cloneData(data))
			resp["lease_duration"], resp["mount_type"] = kv1TTL, "kv"
			return response{status: http.StatusOK, body: resp}
		}}
	case http.MethodPost, http.MethodPut:
		exists := func(*request) string {
			if m.v1[key] != nil {
				return "update"
			}
			return "create"
		}
		return route{op: "kv1.write", acl: exists, handle: func(r *request) response {
			if len(r.body) == 0 {
				return badRequest("missing data fields")
			}
			m.v1[key] = cloneData(r.body)
			return noContent()
		}}
	case http.MethodDelete:
		return route{op: "kv1.delete", acl: methodCapability, handle: func(*request) response {
			delete(m.v1, key)
			return noContent()
		}}
	case "LIST":
		return route{op: "kv1.list", acl: methodCapability, handle: func(*request) response {
			var paths []string
			for p := range m.v1 {
				paths = append(paths, p)
			}
			return listKeys(paths, key)
		}}
	}
	return route{op: "unknown", acl: methodCapability, handle: func(*request) response {
		return errResp(http.StatusMethodNotAllowed, "unsupported operation")
	}}
}
