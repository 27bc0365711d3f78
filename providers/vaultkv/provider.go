package vaultkv

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/ttlcache"
)

// DefaultCallTimeout bounds one provider call at Vault, the client's retries included.
const DefaultCallTimeout = 30 * time.Second

// Provider is the vault provider over one KV v2 mount. It implements
// providers.Provider, SoftDeleter and the ledger's external-reference and inventory
// interfaces. Close wipes its value cache.
type Provider struct {
	cfg Config
	s   *Session
	log *slog.Logger
	// cache keeps the values of pinned versions (CacheTTL).
	cache *valueCache
	// managedChecks are the answers of ManagedByLedger, by path.
	managedChecks *ttlcache.Cache[string, bool]
	// mountChecked is set once the mount was found to be a KV v2 engine (checkWritableMount).
	mountChecked atomic.Bool
}

var (
	_ providers.Provider    = (*Provider)(nil)
	_ providers.SoftDeleter = (*Provider)(nil)
)

// New validates cfg and returns its provider over the session s (shared by every
// provider of the deployment). No Vault call is made here.
func New(cfg Config, s *Session) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg, s: s, log: orDiscard(cfg.Log), cache: newValueCache(cfg.CacheTTL),
		managedChecks: ttlcache.New[string, bool](min(cfg.CacheTTL, ManagedCheckTTL), ManagedCheckCacheSize)}, nil
}

// Close wipes what the provider keeps in memory; it is idempotent.
// A provider that is closed while a call of its own is in flight keeps nothing of it.
func (p *Provider) Close() error {
	p.cache.close()
	p.managedChecks.Close()
	return nil
}

// Descriptor implements providers.Provider.
func (p *Provider) Descriptor() providers.Descriptor {
	return providers.Descriptor{ID: providers.HashiCorpVault, Label: "HashiCorp Vault",
		SupportsManagedValues: true, SupportsExternalReferences: true, Configured: true}
}

// call bounds one provider call and returns the session's client in the provider's
// namespace.
func (p *Provider) call(ctx context.Context) (context.Context, context.CancelFunc, *api.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	c, err := p.s.client(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	if p.cfg.Namespace != "" {
		c = c.WithNamespace(p.cfg.Namespace)
	}
	return ctx, cancel, c, nil
}

// orDiscard is log, or a logger that discards everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return log
}
