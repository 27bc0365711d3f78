package ttlcache_test

import (
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/ttlcache"
)

func TestTTLBoundAndClose(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	c := ttlcache.New[int, string](time.Minute, 4)
	c.SetClock(func() time.Time { return now })
	c.Put(1, "one")
	if v, ok := c.Get(1); !ok || v != "one" {
		t.Fatalf("miss right after put: %q %v", v, ok)
	}
	now = now.Add(61 * time.Second)
	if _, ok := c.Get(1); ok {
		t.Fatal("hit after the TTL")
	}
	for i := range 10 {
		c.Put(i, "x")
	}
	if c.Len() != 4 {
		t.Fatalf("the cache holds %d entries, the bound is 4", c.Len())
	}
	if _, ok := c.Get(0); ok {
		t.Fatal("the least recently used entry was kept")
	}
	c.DropIf(func(k int) bool { return k%2 == 0 })
	if _, ok := c.Get(8); ok || c.Len() != 2 {
		t.Fatalf("DropIf left %d entries", c.Len())
	}
	c.Close()
	c.Put(42, "after close")
	if _, ok := c.Get(42); ok || c.Len() != 0 {
		t.Fatal("a closed cache keeps entries")
	}
}

func TestAZeroTTLKeepsNothing(t *testing.T) {
	t.Parallel()
	c := ttlcache.New[string, int](0, 10)
	c.Put("k", 1)
	if _, ok := c.Get("k"); ok || c.Len() != 0 {
		t.Fatal("a cache without a TTL kept an entry")
	}
}
