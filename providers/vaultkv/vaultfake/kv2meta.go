package vaultfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Custom metadata limits KV v2 enforces.
const (
	maxCustomKeys     = 64
	maxCustomKeyLen   = 128
	maxCustomValueLen = 512
)

func metadataRoute(m *mount, key, method string, exists func(*request) string) route {
	switch method {
	case http.MethodGet:
		return route{op: "metadata.read", acl: methodCapability, handle: func(*request) response { return metadataRead(m, key) }}
	case "LIST":
		return route{op: "metadata.list", acl: methodCapability, handle: func(*request) response { return metadataList(m, key) }}
	case http.MethodPost, http.MethodPut:
		return route{op: "metadata.write", acl: exists, handle: func(r *request) response { return metadataWrite(m, key, r) }}
	case http.MethodPatch:
		return route{op: "metadata.patch", acl: methodCapability, handle: func(r *request) response { return metadataPatch(m, key, r) }}
	case http.MethodDelete:
		return route{op: "metadata.delete", acl: methodCapability, handle: func(*request) response {
			delete(m.v2, key)
			return noContent()
		}}
	}
	return route{op: "unknown", acl: methodCapability, handle: func(*request) response {
		return errResp(http.StatusMethodNotAllowed, "unsupported operation")
	}}
}

func metadataRead(m *mount, key string) response {
	s := m.v2[key]
	if s == nil {
		return notFound()
	}
	versions := map[string]any{}
	for n, v := range s.versions {
		versions[strconv.Itoa(n)] = map[string]any{"created_time": ts(v.created), "deletion_time": ts(v.deletion), "destroyed": v.destroyed}
	}
	return kvOK(map[string]any{
		"cas_required": s.casRequired, "created_time": ts(s.created), "current_version": s.current,
		"custom_metadata": customJSON(s.custom), "delete_version_after": s.deleteVersionAfter.String(),
		"max_versions": s.maxVersions, "oldest_version": s.oldest, "updated_time": ts(s.updated), "versions": versions,
	})
}

// metadataList answers LIST metadata/<folder>/: the keys right under it, folders with a
// trailing "/", sorted; 404 when there are none.
func metadataList(m *mount, key string) response {
	var paths []string
	for p := range m.v2 {
		paths = append(paths, p)
	}
	return listKeys(paths, key)
}

func listKeys(paths []string, folder string) response {
	if folder != "" && !strings.HasSuffix(folder, "/") {
		folder += "/"
	}
	seen := map[string]bool{}
	for _, p := range paths {
		rest, ok := strings.CutPrefix(p, folder)
		if !ok || rest == "" {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	if len(seen) == 0 {
		return notFound()
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return kvOK(map[string]any{"keys": keys})
}

// metadataWrite answers POST metadata/<key>: the fields given replace the secret's
// (custom_metadata as a whole; null clears it); a key with no metadata gets some.
func metadataWrite(m *mount, key string, req *request) response {
	if key == "" {
		return badRequest("missing path")
	}
	s := m.v2[key]
	if s == nil {
		s = newSecret(req.now)
	}
	if r := applyMetadata(s, req.body, false); r != nil {
		return *r
	}
	s.updated = req.now
	m.v2[key] = s
	return noContent()
}

// metadataPatch answers PATCH metadata/<key>: a merge patch of the fields given,
// custom_metadata merged key by key (null removes one); 404 for a key with no metadata.
func metadataPatch(m *mount, key string, req *request) response {
	if r := requireMergePatch(req); r != nil {
		return *r
	}
	s := m.v2[key]
	if s == nil {
		return notFound()
	}
	patched := *s
	if r := applyMetadata(&patched, req.body, true); r != nil {
		return *r
	}
	patched.updated = req.now
	*s = patched
	return noContent()
}

func applyMetadata(s *kvSecret, body map[string]any, merge bool) *response {
	fail := func(msg string) *response { r := badRequest(msg); return &r }
	if raw, ok := body["max_versions"]; ok {
		n, err := toInt(raw)
		if err != nil || n < 0 {
			return fail("max_versions must be a non-negative integer")
		}
		s.maxVersions = n
	}
	if raw, ok := body["cas_required"]; ok {
		b, err := toBool(raw)
		if err != nil {
			return fail("cas_required must be a boolean")
		}
		s.casRequired = b
	}
	if raw, ok := body["delete_version_after"]; ok {
		d, err := toDuration(raw)
		if err != nil {
			return fail("error parsing delete_version_after: " + err.Error())
		}
		if d < 0 {
			return fail("delete_version_after cannot be negative")
		}
		s.deleteVersionAfter = d
	}
	raw, ok := body["custom_metadata"]
	if !ok {
		return nil
	}
	custom, err := parseCustom(raw, s.custom, merge)
	if err != nil {
		return fail(err.Error())
	}
	s.custom = custom
	return nil
}

// parseCustom validates custom_metadata as KV v2 does; with merge, it patches old.
func parseCustom(raw any, old map[string]string, merge bool) (map[string]string, error) {
	if raw == nil {
		return nil, nil
	}
	in, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("custom_metadata must be a map of strings")
	}
	out := map[string]string{}
	if merge {
		for k, v := range old {
			out[k] = v
		}
	}
	for k, v := range in {
		if v == nil && merge {
			delete(out, k)
			continue
		}
		s, err := toString(v)
		if err != nil {
			return nil, fmt.Errorf("custom_metadata value for key %q is not a string", k)
		}
		if k == "" || len(k) > maxCustomKeyLen {
			return nil, fmt.Errorf("custom_metadata keys must be 1 to %d characters", maxCustomKeyLen)
		}
		if len(s) > maxCustomValueLen {
			return nil, fmt.Errorf("custom_metadata values must be at most %d characters", maxCustomValueLen)
		}
		out[k] = s
	}
	if len(out) > maxCustomKeys {
		return nil, fmt.Errorf("custom_metadata can hold at most %d keys", maxCustomKeys)
	}
	return out, nil
}

func configRead(m *mount) response {
	return kvOK(map[string]any{"cas_required": m.cfg.casRequired, "delete_version_after": m.cfg.deleteVersionAfter.String(),
		"max_versions": m.cfg.maxVersions})
}

func configWrite(m *mount, req *request) response {
	s := &kvSecret{maxVersions: m.cfg.maxVersions, casRequired: m.cfg.casRequired, deleteVersionAfter: m.cfg.deleteVersionAfter}
	fields := map[string]any{}
	for _, k := range []string{"max_versions", "cas_required", "delete_version_after"} {
		if v, ok := req.body[k]; ok {
			fields[k] = v
		}
	}
	if r := applyMetadata(s, fields, false); r != nil {
		return *r
	}
	m.cfg = mountConfig{maxVersions: s.maxVersions, casRequired: s.casRequired, deleteVersionAfter: s.deleteVersionAfter}
	return noContent()
}

// toInt decodes a JSON number or a numeric string, as Vault's weak decoding does; null
// is 0.
func toInt(raw any) (int, error) {
	switch v := raw.(type) {
	case nil:
		return 0, nil
	case float64:
		return int(v), nil
	case int:
		return v, nil
	case string:
		return strconv.Atoi(v)
	case interface{ Int64() (int64, error) }:
		n, err := v.Int64()
		return int(n), err
	}
	return 0, fmt.Errorf("not an integer: %T", raw)
}

// toInts decodes Vault's comma-int-slice: a list of numbers or numeric strings, a
// number, or "1,2".
func toInts(raw any) ([]int, error) {
	var out []int
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case []any:
		for _, e := range v {
			n, err := toInt(e)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	case string:
		for _, part := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	default:
		n, err := toInt(v)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func toBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		return strconv.ParseBool(v)
	}
	return false, fmt.Errorf("not a boolean: %T", raw)
}

func toString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case fmt.Stringer: // json.Number
		return v.String(), nil
	}
	return "", fmt.Errorf("not a string: %T", raw)
}

// toDuration decodes Vault's duration fields: seconds as a number or numeric string, or
// a Go duration ("1h30m"); null is 0.
func toDuration(raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case nil:
		return 0, nil
	case string:
		if v == "" {
			return 0, nil
		}
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		return time.ParseDuration(v)
	}
	n, err := toInt(raw)
	return time.Duration(n) * time.Second, err
}
