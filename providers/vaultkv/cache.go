package vaultkv

import (
	"time"

	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/ttlcache"
)

// cacheSize bounds the resolved values kept in memory.
const cacheSize = 1024

// cacheKey names one KV version: a pinned version's value never changes at Vault (a
// write makes a new version), so the key is the whole identity of the value.
type cacheKey struct {
	namespace, mount, path string
	version                int
}

// valueCache keeps resolved values of pinned KV versions for a TTL. The only
// staleness is a version deleted or destroyed at Vault behind the ledger's back; the
// provider's own deletes evict.
type valueCache struct {
	c *ttlcache.Cache[cacheKey, providers.Value]
}

func newValueCache(ttl time.Duration) *valueCache {
	return &valueCache{c: ttlcache.New[cacheKey, providers.Value](ttl, cacheSize)}
}

func (c *valueCache) get(k cacheKey) (providers.Value, bool) { return c.c.Get(k) }

func (c *valueCache) put(k cacheKey, v providers.Value) { c.c.Put(k, v) }

// drop evicts every version of the path of k (k.version is not used).
func (c *valueCache) drop(k cacheKey) {
	c.c.DropIf(func(e cacheKey) bool {
		return e.namespace == k.namespace && e.mount == k.mount && e.path == k.path
	})
}

// close forgets every value and keeps none from now on.
func (c *valueCache) close() { c.c.Close() }
