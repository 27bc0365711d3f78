package awssm

import (
	"container/list"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// cacheSize bounds the resolved values kept in memory (at most 64 KiB each).
const cacheSize = 1024

type cacheKey struct{ name, versionID string }

type cacheEntry struct {
	key     cacheKey
	value   providers.Value
	expires time.Time
}

// valueCache keeps resolved values by (secret name, VersionId) for a TTL, least recently
// used first out. An AWS version never changes its value, so the only staleness is a
// version destroyed at AWS behind the ledger's back; the provider's own deletes evict.
type valueCache struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	order  *list.List // front: most recently used
	m      map[cacheKey]*list.Element
	closed bool // set by close: nothing is kept any more
}

func newValueCache(ttl time.Duration) *valueCache {
	return &valueCache{ttl: ttl, now: time.Now, order: list.New(), m: map[cacheKey]*list.Element{}}
}

func (c *valueCache) get(name, versionID string) (providers.Value, bool) {
	if c.ttl <= 0 {
		return providers.Value{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[cacheKey{name, versionID}]
	if !ok {
		return providers.Value{}, false
	}
	e := el.Value.(*cacheEntry)
	if c.now().After(e.expires) {
		c.order.Remove(el)
		delete(c.m, e.key)
		return providers.Value{}, false
	}
	c.order.MoveToFront(el)
	return e.value, true
}

func (c *valueCache) put(name, versionID string, v providers.Value) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	k := cacheKey{name, versionID}
	if el, ok := c.m[k]; ok {
		c.order.Remove(el)
	}
	c.m[k] = c.order.PushFront(&cacheEntry{key: k, value: v, expires: c.now().Add(c.ttl)})
	for c.order.Len() > cacheSize {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(*cacheEntry).key)
	}
}

// drop evicts one version, or every version of name when versionID is empty.
func (c *valueCache) drop(name, versionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.m {
		if k.name == name && (versionID == "" || k.versionID == versionID) {
			c.order.Remove(el)
			delete(c.m, k)
		}
	}
}

// close forgets every value and keeps none from now on: a provider that is closed while
// a call of its own is still in flight must not keep that call's value in memory.
func (c *valueCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.order.Init()
	clear(c.m)
}
