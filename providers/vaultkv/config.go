package vaultkv

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// Defaults of Config.
const (
	DefaultMount         = "secret"
	DefaultPrefix        = "paperclip"
	DefaultProviderOwner = "paperclip"
	// DefaultVersionRetention is the max_versions of a managed secret's metadata when
	// the deployment does not set one: KV v2's own default keeps 10.
	DefaultVersionRetention = 10
	// MaxVersionRetention bounds the retention setting.
	MaxVersionRetention = 1000
	// DefaultCacheTTL is the pinned-value cache's lifetime when the ledger's setting is
	// unset: shorter than AWS's, since deleting a version at Vault is how its operators
	// revoke it, and a cached value outlives that by at most this long.
	DefaultCacheTTL = time.Minute
)

// Config is one vault provider instance (the deployment's, or a provider vault's): where
// its secrets live in Vault. It holds routing metadata only; the Session it is built
// over holds the address, the TLS settings and the credentials.
type Config struct {
	// Namespace is the Vault (Enterprise) or OpenBao namespace of every KV call
	// (X-Vault-Namespace); empty is the session's.
	Namespace string
	// Mount is the KV v2 engine's mount path; empty means DefaultMount.
	Mount string
	// Prefix is the first segment(s) of every managed path; empty means DefaultPrefix.
	Prefix string
	// DeploymentID is the segment under the prefix: the deployment's id, or a provider
	// vault's id.
	DeploymentID string
	// VersionRetention is max_versions of every managed secret; 0 means
	// DefaultVersionRetention.
	VersionRetention int
	// Environment and ProviderOwner go into each managed secret's custom metadata.
	Environment   string
	ProviderOwner string // empty means DefaultProviderOwner
	// CacheTTL is how long a resolved pinned value is kept in memory; 0 disables the cache.
	CacheTTL time.Duration
	// Log receives raw Vault errors (at warn); nil discards them.
	Log *slog.Logger
	// Fingerprint is the ledger's keyed fingerprint of a company's value (an HMAC under
	// a key of that company's, never a bare hash).
	Fingerprint func(company string, v providers.Value) string
}

// withDefaults fills the fields whose zero value means "the default".
func (c Config) withDefaults() Config {
	if c.Mount == "" {
		c.Mount = DefaultMount
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ProviderOwner == "" {
		c.ProviderOwner = DefaultProviderOwner
	}
	if c.VersionRetention == 0 {
		c.VersionRetention = DefaultVersionRetention
	}
	return c
}

// Validate reports every problem of the configuration at once (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if problem := CheckPath(c.Namespace, MaxNamespaceLength); c.Namespace != "" && problem != "" {
		bad("vault namespace %s", problem)
	}
	if problem := CheckPath(c.Mount, MaxMountLength); problem != "" {
		bad("vault kv mount %s", problem)
	}
	if problem := CheckPath(c.Prefix, MaxPrefixLength); problem != "" {
		bad("vault kv path prefix %s", problem)
	}
	if c.DeploymentID == "" {
		bad("vault deployment id is required")
	} else if problem := CheckPath(c.DeploymentID, MaxDeploymentIDLength); problem != "" {
		bad("vault deployment id %s", problem)
	}
	if c.VersionRetention < 1 || c.VersionRetention > MaxVersionRetention {
		bad("vault version retention must be 1-%d, not %d", MaxVersionRetention, c.VersionRetention)
	}
	if len(c.Environment) > 256 || len(c.ProviderOwner) > 256 {
		bad("vault environment and provider owner must be at most 256 characters")
	}
	if c.CacheTTL < 0 {
		bad("vault cache ttl must not be negative")
	}
	if c.Fingerprint == nil {
		bad("vault provider needs the ledger's keyed fingerprint function")
	}
	return errors.Join(errs...)
}
