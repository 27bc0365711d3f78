package vaultkv

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers"
)

// The KV data of a managed version: {"value": "<plaintext>"}. A value that is not
// UTF-8 (JSON strings cannot hold it) is stored as {"value": "<base64>",
// "encoding": "base64"}.
const (
	fieldValue     = "value"
	fieldEncoding  = "encoding"
	encodingBase64 = "base64"
)

// managedPath is the path of ref's managed secret inside the mount:
// ManagedRoot(prefix, deploymentID) + <companyId>/<key>, each sanitized to one segment.
func (p *Provider) managedPath(ref providers.Ref) (string, error) {
	if ref.CompanyID == "" || ref.Key == "" {
		return "", invalid("the vault provider names managed secrets after their company and key; this value has none")
	}
	path := ManagedRoot(p.cfg.Prefix, p.cfg.DeploymentID) + Sanitize(ref.CompanyID) + "/" + Sanitize(ref.Key)
	if problem := CheckPath(path, MaxPathLength); problem != "" {
		return "", invalid("the managed Vault path of this secret %s", problem)
	}
	return path, nil
}

// key is the cache key of version n of path.
func (p *Provider) key(path string, n int) cacheKey {
	return cacheKey{namespace: p.cfg.Namespace, mount: p.cfg.Mount, path: path, version: n}
}

// Put implements providers.Provider. Version 1 writes the secret's metadata (retention,
// cas_required, the ledger's custom metadata) and then its data with cas=0, which
// Vault accepts only when the path holds no version; a rotation writes with cas = the
// KV version it follows (ref.Previous). So a writer at Vault the ledger did not see is
// a conflict, never a lost update (see writeCAS for the refusals that are not).
func (p *Provider) Put(ctx context.Context, ref providers.Ref, v providers.Value) (providers.Stored, error) {
	path, err := p.managedPath(ref)
	if err != nil {
		return providers.Stored{}, err
	}
	if ref.Version < 1 {
		return providers.Stored{}, invalid("the vault provider stores numbered versions only")
	}
	expected := 0
	if ref.Version > 1 {
		n, ok := parseVersion(ref.Previous)
		if !ok {
			return providers.Stored{}, invalid("a rotation of a vault secret needs the KV version it follows")
		}
		expected = n
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return providers.Stored{}, err
	}
	defer cancel()
	if err := p.checkWritableMount(ctx, c); err != nil {
		return providers.Stored{}, err
	}
	if ref.Version == 1 {
		if err := p.writeMetadata(ctx, c, path, ref); err != nil {
			return providers.Stored{}, err
		}
	}
	n, err := p.writeCAS(ctx, c, path, payload(v), expected)
	if err != nil {
		return providers.Stored{}, err
	}
	// What was just written is not cached: until someone resolves it, a deletion of the
	// version at Vault takes effect at once.
	return providers.Stored{ProviderVersionRef: strconv.Itoa(n), Fingerprint: p.cfg.Fingerprint(ref.CompanyID, v)}, nil
}

// writeCAS writes data with check-and-set expected. When Vault refuses because the
// current version moved, the metadata tells why:
//   - every version above the expected one is destroyed: those are the ledger's own
//     discarded writes, and the data is written once more over the current version;
//   - exactly one version above it is live and holds this very data: a retried Put whose
//     first attempt was written, and that version is the answer;
//   - anything else is a change at Vault the ledger did not make: a conflict, and
//     nothing is written.
func (p *Provider) writeCAS(ctx context.Context, c *api.Client, path string, data map[string]any, expected int) (int, error) {
	n, err := p.writeData(ctx, c, path, data, expected)
	if !isCASMismatch(err) {
		return n, err
	}
	m, ok, err := p.readMetadata(ctx, c, path)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, p.conflict(expected)
	}
	live, known := liveAbove(m, expected)
	switch {
	case !known:
		return 0, p.conflict(expected)
	case len(live) == 0:
		n, err := p.writeData(ctx, c, path, data, m.CurrentVersion)
		if isCASMismatch(err) {
			return 0, p.conflict(expected)
		}
		return n, err
	case len(live) == 1:
		got, err := p.readVersion(ctx, c, path, live[0])
		if isNotFound(err) {
			return 0, p.conflict(expected)
		}
		if err != nil {
			return 0, err
		}
		if samePayload(got.Data, data) {
			return live[0], nil
		}
	}
	return 0, p.conflict(expected)
}

// liveAbove returns the versions above expected (up to the current one) that are not
// destroyed; known is false when the metadata does not account for every one of them
// (pruned by max_versions, or the current version is below the expected one).
func liveAbove(m kvMetadata, expected int) (live []int, known bool) {
	if m.CurrentVersion <= expected || m.CurrentVersion-expected > len(m.Versions) {
		return nil, false
	}
	for n := expected + 1; n <= m.CurrentVersion; n++ {
		vm, ok := m.version(n)
		if !ok {
			return nil, false
		}
		if !vm.Destroyed {
			if !vm.live(time.Now()) {
				return nil, false // soft-deleted at Vault: not the ledger's doing
			}
			live = append(live, n)
		}
	}
	return live, true
}

// conflict is the refusal of a write over a version the ledger did not expect.
func (p *Provider) conflict(expected int) error {
	p.log.Warn("vault check-and-set refused a write: the secret changed at Vault", "expected_version", expected)
	return providerErr("data.write", mapConflict, 409, "the secret changed at Vault since the ledger's version "+
		strconv.Itoa(expected)+" (another writer); nothing was overwritten")
}

// payload is the KV data of a managed version holding v.
func payload(v providers.Value) map[string]any {
	if utf8.Valid(v.Reveal()) {
		return map[string]any{fieldValue: string(v.Reveal())}
	}
	return map[string]any{fieldValue: base64.StdEncoding.EncodeToString(v.Reveal()), fieldEncoding: encodingBase64}
}

// managedValue is the value of a managed version's KV data; ok is false when the data
// is not a payload.
func managedValue(data map[string]any) (v providers.Value, ok bool) {
	s, ok := data[fieldValue].(string)
	if !ok {
		return providers.Value{}, false
	}
	switch data[fieldEncoding] {
	case nil:
		return providers.NewValue([]byte(s)), true
	case encodingBase64:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return providers.Value{}, false
		}
		return providers.NewValue(b), true
	}
	return providers.Value{}, false
}

// samePayload reports whether the KV data read back is the payload want.
func samePayload(got, want map[string]any) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k].(string)
		if !ok || subtle.ConstantTimeCompare([]byte(g), []byte(w.(string))) != 1 {
			return false
		}
	}
	return true
}

// Discard implements providers.Provider: a create whose append failed removes the
// secret (its metadata and every version); a rotation destroys the version it wrote,
// so the next rotation's check-and-set knows it for the ledger's own (writeCAS). A path
// or version already gone counts as done, so a cleanup may be repeated.
func (p *Provider) Discard(ctx context.Context, ref providers.Ref, providerVersionRef string) error {
	path, err := p.managedPath(ref)
	if err != nil {
		return err
	}
	p.cache.drop(p.key(path, 0))
	n, ok := parseVersion(providerVersionRef)
	if !ok && ref.Version != 1 {
		return invalid("the version to discard has no KV version number")
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if ref.Version == 1 {
		return p.deleteMetadata(ctx, c, path)
	}
	if err := p.versionsCall(ctx, c, "destroy", path, []int{n}); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
