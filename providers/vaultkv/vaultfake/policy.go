package vaultfake

import (
	"slices"
	"strings"
)

// defaultPolicy is the part of Vault's built-in "default" policy that every token but
// root carries.
var defaultPolicy = Policy{
	"auth/token/lookup-self": {"read"},
	"auth/token/renew-self":  {"update"},
	"auth/token/revoke-self": {"update"},
	"sys/capabilities-self":  {"update"},
}

// relNS returns the prefix that paths of namespace reqNS carry in the policies of a
// token of namespace tokNS ("" when they are the same namespace), and whether a token
// of tokNS may be used in reqNS at all (its own namespace and its children).
func relNS(tokNS, reqNS string) (string, bool) {
	switch {
	case tokNS == reqNS:
		return "", true
	case tokNS == "":
		return reqNS + "/", true
	case strings.HasPrefix(reqNS, tokNS+"/"):
		return reqNS[len(tokNS)+1:] + "/", true
	}
	return "", false
}

// acl merges a token's policy with the default policy: the capabilities of a path
// named in both are joined.
func (t *token) acl() Policy {
	out := Policy{}
	for _, p := range []Policy{defaultPolicy, t.policy} {
		for path, caps := range p {
			out[path] = append(slices.Clone(out[path]), caps...)
		}
	}
	return out
}

// capabilities returns what a token may do on path (inside namespace nsPath), as
// sys/capabilities-self reports it: ["root"] for a root token, ["deny"] when nothing.
func (st *state) capabilities(t *token, nsPath, path string) []string {
	if t.root {
		return []string{"root"}
	}
	prefix, ok := relNS(t.ns, nsPath)
	if !ok {
		return []string{"deny"}
	}
	return lookupACL(t.acl(), prefix+strings.TrimPrefix(path, "/"))
}

// allowed reports whether the token holds capability on path in namespace nsPath.
func (st *state) allowed(t *token, nsPath, path, capability string) bool {
	caps := st.capabilities(t, nsPath, path)
	return slices.Contains(caps, capability) || slices.Contains(caps, "root")
}

// lookupACL finds the rule that governs path as Vault does: an exact rule wins;
// otherwise the highest-priority matching glob or "+" rule. A rule with deny denies.
func lookupACL(acl Policy, path string) []string {
	if caps, ok := acl[path]; ok && !isPattern(path) {
		return normalise(caps)
	}
	best, found := "", false
	for pattern := range acl {
		if isPattern(pattern) && matches(pattern, path) && (!found || higher(pattern, best)) {
			best, found = pattern, true
		}
	}
	if !found {
		return []string{"deny"}
	}
	return normalise(acl[best])
}

func isPattern(p string) bool { return strings.HasSuffix(p, "*") || strings.Contains(p, "+") }

func normalise(caps []string) []string {
	if len(caps) == 0 || slices.Contains(caps, "deny") {
		return []string{"deny"}
	}
	out := slices.Clone(caps)
	slices.Sort(out)
	return slices.Compact(out)
}

// matches reports whether a policy path with "+" segments and/or a trailing "*" glob
// matches path.
func matches(pattern, path string) bool {
	glob := strings.HasSuffix(pattern, "*")
	p := strings.TrimSuffix(pattern, "*")
	if !strings.Contains(p, "+") {
		if glob {
			return strings.HasPrefix(path, p)
		}
		return path == p
	}
	pSegs, segs := strings.Split(p, "/"), strings.Split(path, "/")
	if len(segs) < len(pSegs) || (!glob && len(segs) != len(pSegs)) {
		return false
	}
	for i, ps := range pSegs {
		if glob && i == len(pSegs)-1 {
			rest := strings.Join(segs[i:], "/")
			return ps == "+" || strings.HasPrefix(rest, ps)
		}
		if ps != "+" && ps != segs[i] {
			return false
		}
	}
	return true
}

// higher reports whether policy path a takes priority over b, by Vault's rules: the
// first wildcard later, no trailing "*", fewer "+" segments, longer, lexically greater.
func higher(a, b string) bool {
	if ai, bi := firstWildcard(a), firstWildcard(b); ai != bi {
		return ai > bi
	}
	if as, bs := strings.HasSuffix(a, "*"), strings.HasSuffix(b, "*"); as != bs {
		return !as
	}
	if ap, bp := strings.Count(a, "+"), strings.Count(b, "+"); ap != bp {
		return ap < bp
	}
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

func firstWildcard(p string) int {
	if i := strings.IndexAny(p, "+*"); i >= 0 {
		return i
	}
	return len(p)
}

// hasMountAccess reports whether a token may learn about the mount at mountPath (with
// its trailing "/"), as sys/internal/ui/mounts checks: some capability on the mount
// itself or on a path under it.
func (st *state) hasMountAccess(t *token, nsPath, mountPath string) bool {
	if t.root {
		return true
	}
	prefix, ok := relNS(t.ns, nsPath)
	if !ok {
		return false
	}
	full := prefix + mountPath
	if !slices.Contains(lookupACL(t.acl(), full), "deny") {
		return true
	}
	mountSegs := strings.Split(strings.TrimSuffix(full, "/"), "/")
	for pattern, caps := range t.acl() {
		if slices.Contains(normalise(caps), "deny") {
			continue
		}
		p := strings.TrimSuffix(pattern, "*")
		if !strings.Contains(p, "+") {
			if strings.HasPrefix(p, full) {
				return true
			}
			continue
		}
		pSegs := strings.Split(p, "/")
		if len(pSegs) > len(mountSegs) && segmentsMatch(pSegs[:len(mountSegs)], mountSegs) {
			return true
		}
	}
	return false
}

func segmentsMatch(pattern, segs []string) bool {
	for i, ps := range pattern {
		if ps != "+" && ps != segs[i] {
			return false
		}
	}
	return true
}
