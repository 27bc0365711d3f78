package vaultkv

import (
	"context"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/secretsledger/secretsledger/providers"
)

// SoftDelete implements providers.SoftDeleter: KV delete of every live version of the
// secret (Vault keeps their data until they are destroyed, and undelete brings them
// back). A secret with no live version left counts as done.
func (p *Provider) SoftDelete(ctx context.Context, ref providers.Ref) error {
	return p.changeVersions(ctx, ref, "delete", func(m kvVersMeta, now time.Time) bool { return m.live(now) })
}

// Restore implements providers.SoftDeleter: KV undelete of every version that is
// deleted and not destroyed.
func (p *Provider) Restore(ctx context.Context, ref providers.Ref) error {
	return p.changeVersions(ctx, ref, "undelete", func(m kvVersMeta, now time.Time) bool {
		return m.deleted(now) && !m.Destroyed
	})
}

// changeVersions reads the secret's metadata and posts the versions that match to op
// (delete or undelete).
func (p *Provider) changeVersions(ctx context.Context, ref providers.Ref, op string, match func(kvVersMeta, time.Time) bool) error {
	return p.onManaged(ctx, ref, func(ctx context.Context, c *api.Client, path string) error {
		m, ok, err := p.readMetadata(ctx, c, path)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("metadata.read", "the secret does not exist at Vault")
		}
		now := time.Now()
		var ns []int
		for _, n := range m.versionNumbers() {
			if vm, _ := m.version(n); match(vm, now) {
				ns = append(ns, n)
			}
		}
		return p.versionsCall(ctx, c, op, path, ns)
	})
}

// Destroy implements providers.Provider: DELETE of the secret's metadata removes every
// version and the metadata for good. A secret already gone counts as done, so a purge
// may be repeated.
func (p *Provider) Destroy(ctx context.Context, ref providers.Ref) error {
	return p.onManaged(ctx, ref, func(ctx context.Context, c *api.Client, path string) error {
		return p.deleteMetadata(ctx, c, path)
	})
}

// onManaged runs do on ref's managed path within one bounded call, after forgetting
// the path's cached versions (they are about to change).
func (p *Provider) onManaged(ctx context.Context, ref providers.Ref, do func(ctx context.Context, c *api.Client, path string) error) error {
	path, err := p.managedPath(ref)
	if err != nil {
		return err
	}
	p.cache.drop(p.key(path, 0))
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return do(ctx, c, path)
}
