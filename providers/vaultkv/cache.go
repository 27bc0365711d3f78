package vaultkv

import (
	"container/list"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// cacheSize bounds the resolved values kept in memory.
const cacheSize = 1024

// cacheKey names one KV version: a pinned version's value never changes at Vault (a
// write makes a new version), so the key is the whole identity of the value.
type cacheKey struct {
	namespace, mount, path string
	version                int
}

// ttlCache keeps at most size entries for a TTL each, least recently used first out. A
// TTL of zero or less keeps nothing, and so does a closed cache.
type ttlCache[K comparable, V any] struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	mu     sync.Mutex
	order  *list.List // front: most recently used
	m      map[K]*list.Element
	closed bool // set by close: nothing is kept any more
}

type ttlEntry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, size int) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, size: size, now: time.Now, order: list.New(), m: map[K]*list.Element{}}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
	var zero V
	if c.ttl <= 0 {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return zero, false
	}
	e := el.Value.(*ttlEntry[K, V])
	if c.now().After(e.expires) {
		c.order.Remove(el)
		delete(c.m, e.key)
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.value, true
}

func (c *ttlCache[K, V]) put(k K, v V) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if el, ok := c.m[k]; ok {
		c.order.Remove(el)
	}
	c.m[k] = c.order.PushFront(&ttlEntry[K, V]{key: k, value: v, expires: c.now().Add(c.ttl)})
	for c.order.Len() > c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(*ttlEntry[K, V]).key)
	}
}

// dropIf evicts every entry whose key matches.
func (c *ttlCache[K, V]) dropIf(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.m {
		if match(k) {
			c.order.Remove(el)
			delete(c.m, k)
		}
	}
}

// close forgets every entry and keeps none from now on: a provider that is closed while
// a call of its own is still in flight must not keep that call's answer in memory.
func (c *ttlCache[K, V]) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.order.Init()
	clear(c.m)
}

// valueCache keeps resolved values of pinned KV versions for a TTL. The only
// staleness is a version deleted or destroyed at Vault behind the ledger's back; the
// provider's own deletes evict.
type valueCache struct {
	c *ttlCache[cacheKey, providers.Value]
}

func newValueCache(ttl time.Duration) *valueCache {
	return &valueCache{c: newTTLCache[cacheKey, providers.Value](ttl, cacheSize)}
}

func (c *valueCache) get(k cacheKey) (providers.Value, bool) { return c.c.get(k) }

func (c *valueCache) put(k cacheKey, v providers.Value) { c.c.put(k, v) }

// drop evicts every version of the path of k (k.version is not used).
func (c *valueCache) drop(k cacheKey) {
	c.c.dropIf(func(e cacheKey) bool {
		return e.namespace == k.namespace && e.mount == k.mount && e.path == k.path
	})
}

// close forgets every value and keeps none from now on.
func (c *valueCache) close() { c.c.close() }
