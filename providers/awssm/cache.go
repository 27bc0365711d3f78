package awssm

import (
	"time"

	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/ttlcache"
)

// cacheSize bounds the resolved values kept in memory (at most 64 KiB each).
const cacheSize = 1024

type cacheKey struct{ name, versionID string }

// valueCache keeps resolved values by (secret name, VersionId) for a TTL. An AWS version
// never changes its value, so the only staleness is a version destroyed at AWS behind
// the ledger's back; the provider's own deletes evict.
type valueCache struct {
	c *ttlcache.Cache[cacheKey, providers.Value]
}

func newValueCache(ttl time.Duration) *valueCache {
	return &valueCache{c: ttlcache.New[cacheKey, providers.Value](ttl, cacheSize)}
}

func (c *valueCache) get(name, versionID string) (providers.Value, bool) {
	return c.c.Get(cacheKey{name, versionID})
}

func (c *valueCache) put(name, versionID string, v providers.Value) {
	c.c.Put(cacheKey{name, versionID}, v)
}

// drop evicts one version, or every version of name when versionID is empty.
func (c *valueCache) drop(name, versionID string) {
	c.c.DropIf(func(k cacheKey) bool { return k.name == name && (versionID == "" || k.versionID == versionID) })
}

// close forgets every value and keeps none from now on.
func (c *valueCache) close() { c.c.Close() }
