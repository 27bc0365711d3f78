package ttlcache

import (
	"container/list"
	"sync"
	"time"
)

// Cache keeps at most size entries for a TTL each, least recently used first out. A TTL
// of zero or less keeps nothing, and so does a closed cache.
type Cache[K comparable, V any] struct {
	ttl  time.Duration
	size int

	mu     sync.Mutex
	now    func() time.Time
	order  *list.List // front: most recently used
	m      map[K]*list.Element
	closed bool // set by Close: nothing is kept any more
}

type entry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time
}

// New returns a cache of at most size entries, each kept for ttl.
func New[K comparable, V any](ttl time.Duration, size int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, size: size, now: time.Now, order: list.New(), m: map[K]*list.Element{}}
}

// SetClock replaces the clock the TTL is measured with (tests).
func (c *Cache[K, V]) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Get returns the value of k while it is fresh.
func (c *Cache[K, V]) Get(k K) (V, bool) {
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
	e := el.Value.(*entry[K, V])
	if c.now().After(e.expires) {
		c.order.Remove(el)
		delete(c.m, e.key)
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.value, true
}

// Put keeps v as the value of k for the TTL, evicting the least recently used entries
// beyond the bound.
func (c *Cache[K, V]) Put(k K, v V) {
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
	c.m[k] = c.order.PushFront(&entry[K, V]{key: k, value: v, expires: c.now().Add(c.ttl)})
	for c.order.Len() > c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(*entry[K, V]).key)
	}
}

// DropIf evicts every entry whose key matches.
func (c *Cache[K, V]) DropIf(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.m {
		if match(k) {
			c.order.Remove(el)
			delete(c.m, k)
		}
	}
}

// Len is the number of entries kept, fresh or not yet evicted.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Close forgets every entry and keeps none from now on: a provider that is closed while
// a call of its own is still in flight must not keep that call's answer in memory.
func (c *Cache[K, V]) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.order.Init()
	clear(c.m)
}
