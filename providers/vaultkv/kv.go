package vaultkv

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// The KV v2 API's calls, each over a path inside the provider's mount. Paths are
// checked (CheckPath) or built from sanitized segments before they get here, so they
// need no escaping.

// kvMetadata is a secret's metadata (GET <mount>/metadata/<path>).
type kvMetadata struct {
	CurrentVersion int                   `json:"current_version"`
	CreatedTime    string                `json:"created_time"`
	UpdatedTime    string                `json:"updated_time"`
	CustomMetadata map[string]string     `json:"custom_metadata"`
	Versions       map[string]kvVersMeta `json:"versions"`
}

// kvVersMeta is one version's entry in the metadata, or the metadata of a data read.
type kvVersMeta struct {
	Version      int    `json:"version"`
	CreatedTime  string `json:"created_time"`
	DeletionTime string `json:"deletion_time"`
	Destroyed    bool   `json:"destroyed"`
}

// deleted reports whether the version is soft-deleted now: a deletion time in the past
// (delete_version_after sets one in the future on a live version).
func (m kvVersMeta) deleted(now time.Time) bool {
	if m.DeletionTime == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, m.DeletionTime)
	return err != nil || !t.After(now)
}

// live reports whether the version can be read.
func (m kvVersMeta) live(now time.Time) bool { return !m.Destroyed && !m.deleted(now) }

// version returns the entry of version n, and whether the metadata holds it.
func (m kvMetadata) version(n int) (kvVersMeta, bool) {
	v, ok := m.Versions[strconv.Itoa(n)]
	return v, ok
}

// versionNumbers returns the versions the metadata holds, ascending.
func (m kvMetadata) versionNumbers() []int {
	ns := make([]int, 0, len(m.Versions))
	for k := range m.Versions {
		if n, err := strconv.Atoi(k); err == nil {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	return ns
}

// managed reports whether the custom metadata carries the ledger's managed-by key
// (whatever its value: every secret the ledger writes carries it).
func (m kvMetadata) managed() bool {
	_, ok := m.CustomMetadata[CustomManagedBy]
	return ok
}

// kvVersion is one version read with its data (GET <mount>/data/<path>).
type kvVersion struct {
	Data     map[string]any `json:"data"`
	Metadata kvVersMeta     `json:"metadata"`
}

func (p *Provider) apiPath(kind, path string) string { return p.cfg.Mount + "/" + kind + "/" + path }

// readMetadata reads path's metadata; ok is false when the path does not exist.
func (p *Provider) readMetadata(ctx context.Context, c *api.Client, path string) (m kvMetadata, ok bool, err error) {
	s, err := c.Logical().ReadWithContext(ctx, p.apiPath("metadata", path))
	if err != nil {
		return kvMetadata{}, false, p.mapError("metadata.read", err)
	}
	if s == nil || s.Data == nil {
		return kvMetadata{}, false, nil
	}
	if err := redecode(s.Data, &m); err != nil {
		return kvMetadata{}, false, p.mapError("metadata.read", err)
	}
	return m, true, nil
}

// writeMetadata creates or updates a managed secret's metadata: its retention, the
// check-and-set requirement (a writer at Vault must name the version it replaces too)
// and the custom metadata that marks it as the ledger's.
func (p *Provider) writeMetadata(ctx context.Context, c *api.Client, path string, ref providers.Ref) error {
	custom := map[string]any{
		CustomManagedBy:     managedByValue,
		CustomProviderOwner: p.cfg.ProviderOwner,
		CustomDeploymentID:  p.cfg.DeploymentID,
		CustomCompanyID:     ref.CompanyID,
		CustomSecretKey:     ref.Key,
	}
	if p.cfg.Environment != "" {
		custom[CustomEnvironment] = p.cfg.Environment
	}
	_, err := c.Logical().WriteWithContext(ctx, p.apiPath("metadata", path), map[string]any{
		"max_versions": p.cfg.VersionRetention, "cas_required": true, "custom_metadata": custom})
	if err != nil {
		return p.mapError("metadata.write", err)
	}
	return nil
}

// readVersion reads version n of path (0: the latest). A path or version that does not
// exist, and a version deleted or destroyed at Vault (Vault answers those with a 404
// holding null data and the version's metadata), is a not_found error.
func (p *Provider) readVersion(ctx context.Context, c *api.Client, path string, n int) (kvVersion, error) {
	var q map[string][]string
	if n > 0 {
		q = map[string][]string{"version": {strconv.Itoa(n)}}
	}
	s, err := c.Logical().ReadWithDataWithContext(ctx, p.apiPath("data", path), q)
	if err != nil {
		return kvVersion{}, p.mapError("data.read", err)
	}
	if s == nil || s.Data == nil {
		if n > 0 {
			return kvVersion{}, notFound("data.read", "version "+strconv.Itoa(n)+" does not exist at Vault")
		}
		return kvVersion{}, notFound("data.read", "the secret does not exist at Vault")
	}
	var v kvVersion
	if err := redecode(s.Data, &v); err != nil {
		return kvVersion{}, p.mapError("data.read", err)
	}
	if v.Data == nil || !v.Metadata.live(time.Now()) {
		which := "the latest version"
		if n > 0 {
			which = "version " + strconv.Itoa(n)
		}
		return kvVersion{}, notFound("data.read", which+" is deleted or destroyed at Vault")
	}
	return v, nil
}

// writeData writes data as a new version of path with check-and-set cas and returns
// the version Vault made. A check-and-set refusal is returned unmapped (isCASMismatch
// tells it), so that the caller can look at what changed.
func (p *Provider) writeData(ctx context.Context, c *api.Client, path string, data map[string]any, cas int) (int, error) {
	s, err := c.Logical().WriteWithContext(ctx, p.apiPath("data", path), map[string]any{
		"data": data, "options": map[string]any{"cas": cas}})
	if isCASMismatch(err) {
		return 0, err
	}
	if err != nil {
		return 0, p.mapError("data.write", err)
	}
	var out kvVersMeta
	if s == nil || s.Data == nil {
		return 0, providerErr("data.write", mapProviderError, 0, "Vault did not say which version it wrote")
	}
	if err := redecode(s.Data, &out); err != nil || out.Version < 1 {
		return 0, providerErr("data.write", mapProviderError, 0, "Vault did not say which version it wrote")
	}
	return out.Version, nil
}

// versionsCall posts {"versions": ns} to one of the version endpoints (delete,
// undelete, destroy). A path that does not exist is not_found.
func (p *Provider) versionsCall(ctx context.Context, c *api.Client, op, path string, ns []int) error {
	if len(ns) == 0 {
		return nil
	}
	if _, err := c.Logical().WriteWithContext(ctx, p.apiPath(op, path), map[string]any{"versions": ns}); err != nil {
		return p.mapError(op, err)
	}
	return nil
}

// deleteMetadata removes every version of path and its metadata; a path that does not
// exist counts as done, so the call may be repeated.
func (p *Provider) deleteMetadata(ctx context.Context, c *api.Client, path string) error {
	if _, err := c.Logical().DeleteWithContext(ctx, p.apiPath("metadata", path)); err != nil {
		mapped := p.mapError("metadata.delete", err)
		if isNotFound(mapped) {
			return nil
		}
		return mapped
	}
	return nil
}

// list returns the keys of the directory dir (LIST <mount>/metadata/<dir>), sorted;
// an empty or missing directory has none.
func (p *Provider) list(ctx context.Context, c *api.Client, dir string) ([]string, error) {
	s, err := c.Logical().ListWithContext(ctx, p.apiPath("metadata", dir))
	if err != nil {
		return nil, p.mapError("metadata.list", err)
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	var out struct {
		Keys []string `json:"keys"`
	}
	if err := redecode(s.Data, &out); err != nil {
		return nil, p.mapError("metadata.list", err)
	}
	sort.Strings(out.Keys)
	return out.Keys, nil
}

// redecode turns the client's decoded JSON into a typed answer, numbers kept exact.
func redecode(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(out)
}

// parseVersion parses a providerVersionRef: a KV version, a positive decimal.
func parseVersion(ref string) (int, bool) {
	n, err := strconv.Atoi(ref)
	if err != nil || n < 1 || strconv.Itoa(n) != ref {
		return 0, false
	}
	return n, true
}

// parseTime parses one of Vault's timestamps; nil when it is empty or malformed.
func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// invalid is a refusal of a request before any Vault call.
func invalid(format string, args ...any) error {
	return ledgererr.New(ledgererr.Invalid, format, args...)
}
