package vaultkv

import (
	"context"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

var errNotBuilt = ledgererr.New(ledgererr.Unavailable, "the vault provider is not built yet")

// Put implements providers.Provider.
func (p *Provider) Put(ctx context.Context, ref providers.Ref, v providers.Value) (providers.Stored, error) {
	return providers.Stored{}, errNotBuilt
}

// Link implements providers.Provider.
func (p *Provider) Link(ctx context.Context, ref providers.Ref, externalRef, providerVersionRef string) (providers.Stored, error) {
	return providers.Stored{}, errNotBuilt
}

// Resolve implements providers.Provider.
func (p *Provider) Resolve(ctx context.Context, ref providers.Ref, providerVersionRef string) (providers.Value, error) {
	return providers.Value{}, errNotBuilt
}

// Discard implements providers.Provider.
func (p *Provider) Discard(ctx context.Context, ref providers.Ref, providerVersionRef string) error {
	return errNotBuilt
}

// Destroy implements providers.Provider.
func (p *Provider) Destroy(ctx context.Context, ref providers.Ref) error { return errNotBuilt }

// SoftDelete implements providers.SoftDeleter.
func (p *Provider) SoftDelete(ctx context.Context, ref providers.Ref) error { return errNotBuilt }

// Restore implements providers.SoftDeleter.
func (p *Provider) Restore(ctx context.Context, ref providers.Ref) error { return errNotBuilt }
