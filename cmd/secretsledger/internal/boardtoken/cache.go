package boardtoken

import (
	"slices"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// CacheTTL is how long a serving process answers a board token from memory after it
// last found the token live in the database: a token revoked by `secretsledger tokens
// revoke` (another process, which no serving process hears) is refused by every serving
// process at most this long after the revocation commits. A hit does not extend it.
const CacheTTL = time.Second

// CacheSize bounds the entries: far more live tokens than an instance issues, and small
// enough that a flood of distinct live tokens costs at most this many entries.
const CacheSize = 4096

// Cache keeps the board tokens that authenticated, keyed by their keyed hash (never the
// token), each for CacheTTL from its check in the database. Only live tokens get an
// entry: a refused token is checked in the database every time, so a new token works at
// once and a guess never fills the cache. A nil *Cache caches nothing.
type Cache struct {
	ttl     time.Duration
	size    int
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	actor   actor.Actor
	expires time.Time
}

// NewCache returns a cache of at most size entries, each answered for ttl.
func NewCache(ttl time.Duration, size int) *Cache {
	return &Cache{ttl: ttl, size: max(size, 1), now: time.Now, entries: map[string]cached{}}
}

// get returns the actor of a live entry for hash; the caller gets its own copy.
func (c *Cache) get(hash []byte) (actor.Actor, bool) {
	if c == nil {
		return actor.Actor{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok {
		return actor.Actor{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, string(hash))
		return actor.Actor{}, false
	}
	a := e.actor
	a.Companies = slices.Clone(a.Companies)
	return a, true
}

// put records that the token of hash authenticated as a just now. A full cache first
// drops its expired entries, then, if still full, an arbitrary one: it never grows past
// its size.
func (c *Cache) put(hash []byte, a actor.Actor) {
	if c == nil {
		return
	}
	a.Companies = slices.Clone(a.Companies)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[string(hash)]; !ok && len(c.entries) >= c.size {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[string(hash)] = cached{actor: a, expires: now.Add(c.ttl)}
}

// forget drops the entries of the token with this id (revoked through this process).
func (c *Cache) forget(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.actor.ID == id {
			delete(c.entries, k)
		}
	}
}

// Len is the number of entries, expired ones included until they are dropped.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
