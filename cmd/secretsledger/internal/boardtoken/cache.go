package boardtoken

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

const (
	// CacheSize bounds how many live tokens a Cache remembers; when it is full, an
	// arbitrary one is forgotten (operators hold few tokens, so the bound is for memory,
	// not for hit rates).
	CacheSize = 4096
	// PollInterval is how often Watch reads the watermark of board_tokens: a token
	// revoked in another process is refused by this one within about this long.
	PollInterval = 100 * time.Millisecond
	// MaxStaleness is how long after the last successful read of the watermark began
	// the cache may still answer; after that (database down, reads failing, Watch not
	// running) every lookup goes to the database, as without a cache.
	MaxStaleness = 500 * time.Millisecond
)

// watermarkSQL fingerprints board_tokens: every INSERT or UPDATE writes a row version
// carrying its transaction's id (xmin), and a DELETE removes an id, so any change —
// revoking, keying a stored hash, new companies, a hand-made edit, even one undone before
// the next read — changes the fingerprint. It reads the whole table, which holds an
// operator's few tokens.
const watermarkSQL = `SELECT coalesce(md5(string_agg(id || ':' || xmin::text, ',' ORDER BY id)), '') FROM board_tokens`

// Cache remembers the actors of live tokens, so that a serve process answers a known
// token from memory instead of a query per request. It is keyed by a token's keyed
// hash (never the token) and holds only successful lookups: unknown, revoked or
// unkeyed tokens keep costing a query, and cannot grow it. Its freshness comes from
// Store.Watch; without a recent watermark it answers nothing. A Cache is safe for
// concurrent use; the zero value is not usable, call NewCache.
type Cache struct {
	now func() time.Time // time.Now; tests move it

	mu     sync.Mutex
	actors map[string]actor.Actor // by keyed credential hash
	// generation changes whenever the actors are dropped: a lookup that began under
	// another generation may have read what the drop was for, and is not kept.
	generation uint64
	watermark  string
	watched    bool      // watermark holds a value read from the table
	freshUntil time.Time // MaxStaleness after the last good read began
}

// NewCache returns an empty cache, which answers nothing until Store.Watch has read the
// table's watermark.
func NewCache() *Cache {
	return &Cache{now: time.Now, actors: make(map[string]actor.Actor)}
}

// get returns the cached actor of hash while the cache is fresh, and the generation a
// lookup from the database must present to put its answer.
func (c *Cache) get(hash []byte) (actor.Actor, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watched && c.now().Before(c.freshUntil) {
		if a, ok := c.actors[string(hash)]; ok {
			return a, c.generation, true
		}
	}
	return actor.Actor{}, c.generation, false
}

// put remembers a live token's actor, unless the cache was dropped since the lookup
// began (generation).
func (c *Cache) put(hash []byte, a actor.Actor, generation uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if generation != c.generation {
		return
	}
	if _, ok := c.actors[string(hash)]; !ok && len(c.actors) >= CacheSize {
		for k := range c.actors {
			delete(c.actors, k)
			break
		}
	}
	c.actors[string(hash)] = a
}

// drop forgets every token.
func (c *Cache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
}

func (c *Cache) dropLocked() {
	clear(c.actors)
	c.generation++
}

// observe records a watermark read that began at readAt: a new one drops every token.
func (c *Cache) observe(watermark string, readAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.watched || watermark != c.watermark {
		c.dropLocked()
		c.watermark, c.watched = watermark, true
	}
	c.freshUntil = readAt.Add(MaxStaleness)
}

// Watch keeps s.Cache fresh until ctx ends: it reads the watermark of board_tokens every
// PollInterval, and drops the cache when it changed. A read that fails is logged when
// reads start failing; the cache then goes stale and is not used until a read succeeds.
func (s Store) Watch(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	failing := false
	for {
		err := s.readWatermark(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			log.Warn("cannot read the board tokens' watermark; checking every token in the database", "err", err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s Store) readWatermark(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, MaxStaleness)
	defer cancel()
	readAt := s.Cache.now()
	var watermark string
	if err := s.DB.QueryRow(ctx, watermarkSQL).Scan(&watermark); err != nil {
		return err
	}
	s.Cache.observe(watermark, readAt)
	return nil
}
