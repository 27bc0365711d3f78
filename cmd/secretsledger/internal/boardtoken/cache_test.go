package boardtoken

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// clock is a settable time for the cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClockedCache(size int) (*Cache, *clock) {
	c := NewCache(CacheTTL, size)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	c.now = clk.Now
	return c, clk
}

// A token revoked by another process (here: the owner's store, without this process's
// cache, as `secretsledger tokens revoke` is) is refused by a serving process within
// CacheTTL of the revocation, however often it is used meanwhile; a token revoked through
// the caching store itself is refused at once.
func TestRevokedTokenRefusedWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime := newStores(t)
	cache, clk := newClockedCache(16)
	serving := runtime
	serving.Cache = cache

	id, token, err := owner.Create(ctx, nil, "revoked elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := owner.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	// Within the TTL the entry may still answer; at the TTL it must not.
	for clk.add(CacheTTL / 4); clk.Now().Before(time.Unix(1_700_000_000, 0).Add(CacheTTL)); clk.add(CacheTTL / 4) {
		_, _ = serving.Authenticate(ctx, token)
	}
	if _, err := serving.Authenticate(ctx, token); !unauthorized(err) {
		t.Fatalf("a token revoked by another process, %v after it was cached: %v, want unauthorized", CacheTTL, err)
	}

	// Revoked through the caching store: refused at once, entry or not.
	id2, token2, err := owner.Create(ctx, nil, "revoked here")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Authenticate(ctx, token2); err != nil {
		t.Fatal(err)
	}
	here := owner
	here.Cache = cache
	if err := here.Revoke(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Authenticate(ctx, token2); !unauthorized(err) {
		t.Fatalf("a token revoked through this process's store: %v, want unauthorized at once", err)
	}
}

// A token is served from the cache only for itself: each token's entry is its own keyed
// hash, so a token of another company (or no token at all) is never answered with another
// token's actor, and a refused token leaves no entry that a later check could reuse.
func TestCacheNeverServesAnotherTokensEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime := newStores(t)
	serving := runtime
	serving.Cache, _ = newClockedCache(16)

	_, tokenA, err := owner.Create(ctx, []string{"company-a"}, "a")
	if err != nil {
		t.Fatal(err)
	}
	_, tokenB, err := owner.Create(ctx, []string{"company-b"}, "b")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first check fills the entries, the others read them
		a, err := serving.Authenticate(ctx, tokenA)
		if err != nil || !slices.Equal(a.Companies, []string{"company-a"}) {
			t.Fatalf("token A: %v %v", a, err)
		}
		b, err := serving.Authenticate(ctx, tokenB)
		if err != nil || !slices.Equal(b.Companies, []string{"company-b"}) {
			t.Fatalf("token B: %v %v", b, err)
		}
		a.Companies[0] = "company-b" // a caller that changes its actor changes no entry
	}
	for _, forged := range []string{tokenA + "x", tokenA[:len(tokenA)-1], prefix} {
		if _, err := serving.Authenticate(ctx, forged); !unauthorized(err) {
			t.Fatalf("a token that is no token's: %v", err)
		}
	}
	if n := serving.Cache.Len(); n != 2 {
		t.Fatalf("%d entries, want 2: refused tokens must leave none", n)
	}
	keys := serving.Cache.keys()
	hashA, hashB := string(serving.Key.CredentialHash(tokenA)), string(serving.Key.CredentialHash(tokenB))
	if len(keys) != 2 || !slices.Contains(keys, hashA) || !slices.Contains(keys, hashB) {
		t.Fatal("the entries are not keyed by the tokens' keyed hashes")
	}
}

// The cache cannot grow past its size, however many distinct live tokens authenticate,
// and an entry past its TTL is never answered (it is checked in the database again).
func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	cache, clk := newClockedCache(8)
	for i := range 1000 {
		cache.put(fmt.Appendf(nil, "hash-%04d", i), actor.Actor{Type: actor.Board, ID: fmt.Sprint(i)})
		if cache.Len() > 8 {
			t.Fatalf("%d entries after %d puts, bound 8", cache.Len(), i+1)
		}
	}
	last := fmt.Appendf(nil, "hash-%04d", 999)
	if a, ok := cache.get(last); !ok || a.ID != "999" {
		t.Fatalf("the newest entry: %v %v", a, ok)
	}
	clk.add(CacheTTL)
	if _, ok := cache.get(last); ok {
		t.Fatal("an entry answered at its TTL")
	}
	var none *Cache // a store without a cache checks every time
	none.put(last, actor.Actor{})
	if _, ok := none.get(last); ok || none.Len() != 0 {
		t.Fatal("a nil cache answered")
	}
}

// keys returns the entries' keys, in no particular order.
func (c *Cache) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	return keys
}
