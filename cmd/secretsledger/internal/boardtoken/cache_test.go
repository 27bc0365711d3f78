package boardtoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// countingDB counts the token lookups that reach the database.
type countingDB struct {
	DB
	lookups atomic.Int64
}

func (d *countingDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if strings.Contains(sql, "token_hash = $1") {
		d.lookups.Add(1)
	}
	return d.DB.QueryRow(ctx, sql, args...)
}

// cachedStores returns the owner's store and a runtime store with a cache whose clock
// stands still at start (so it goes stale only when a test moves the clock), its lookups
// counted.
func cachedStores(t *testing.T) (owner, runtime Store, db *countingDB, clock *time.Time) {
	t.Helper()
	owner, runtime = newStores(t)
	db = &countingDB{DB: runtime.DB}
	start := time.Now()
	clock = &start
	runtime.DB, runtime.Cache = db, NewCache()
	runtime.Cache.now = func() time.Time { return *clock }
	return owner, runtime, db, clock
}

// mustAuthenticate authenticates token and says whether it took a database lookup.
func mustAuthenticate(t *testing.T, s Store, db *countingDB, token, id string) (queried bool) {
	t.Helper()
	before := db.lookups.Load()
	a, err := s.Authenticate(context.Background(), token)
	if err != nil || a.ID != id || a.Type != actor.Board {
		t.Fatalf("authenticate: %+v %v, want %s", a, err, id)
	}
	return db.lookups.Load() != before
}

func mustReadWatermark(t *testing.T, s Store) {
	t.Helper()
	if err := s.readWatermark(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A token found live once is answered from memory while the watermark is fresh, with
// its companies as stored; unknown tokens are never remembered.
func TestCachedTokenNeedsNoQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime, db, _ := cachedStores(t)
	id, token, err := owner.Create(ctx, []string{"co1", "co2"}, "cached")
	if err != nil {
		t.Fatal(err)
	}
	if !mustAuthenticate(t, runtime, db, token, id) || !mustAuthenticate(t, runtime, db, token, id) {
		t.Fatal("answered without a lookup before any watermark was read")
	}
	mustReadWatermark(t, runtime)
	if !mustAuthenticate(t, runtime, db, token, id) {
		t.Fatal("the first lookup after the watermark did not query")
	}
	for range 50 {
		if mustAuthenticate(t, runtime, db, token, id) {
			t.Fatal("a cached token was looked up again")
		}
	}
	a, _ := runtime.Authenticate(ctx, token)
	if strings.Join(a.Companies, ",") != "co1,co2" {
		t.Fatalf("companies from the cache: %v", a.Companies)
	}
	a.Companies[0] = "changed by a caller"
	if a, _ := runtime.Authenticate(ctx, token); a.Companies[0] != "co1" {
		t.Fatalf("a caller changed the cached companies: %v", a.Companies)
	}
	before := db.lookups.Load()
	for range 100 {
		if _, err := runtime.Authenticate(ctx, randomToken()); !unauthorized(err) {
			t.Fatalf("an unknown token: %v", err)
		}
	}
	if got := db.lookups.Load() - before; got != 100 || len(runtime.Cache.actors) != 1 {
		t.Fatalf("unknown tokens: %d lookups, %d cached; want 100 and 1", got, len(runtime.Cache.actors))
	}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// A token revoked by another process (the owner's store, which shares no memory with
// this one) is refused once Watch sees the table change: the clock stands still, so the
// cache never goes stale and only the watch can have dropped it.
func TestRevokedElsewhereIsRefusedWithinTheBound(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owner, runtime, db, _ := cachedStores(t)
	id, token, err := owner.Create(ctx, nil, "revoked elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	watched := make(chan struct{})
	go func() { runtime.Watch(ctx, slog.New(slog.DiscardHandler)); close(watched) }()
	deadline := time.Now().Add(2 * time.Second)
	for mustAuthenticate(t, runtime, db, token, id) { // until the cache answers
		if time.Now().After(deadline) {
			t.Fatal("the token was not cached within 2 s")
		}
		time.Sleep(10 * time.Millisecond) // the watch's first reads
	}
	if err := owner.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for {
		_, err := runtime.Authenticate(ctx, token)
		if unauthorized(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(revoked) > 2*time.Second {
			t.Fatal("a token revoked elsewhere still authenticates after 2 s")
		}
		time.Sleep(5 * time.Millisecond) // the watch's next read
	}
	t.Logf("refused %s after the revocation", time.Since(revoked))
	cancel()
	<-watched
}

// Revoking through the store that holds the cache refuses the token at once, before any
// watermark is read again.
func TestRevokeInThisProcessIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime, db, _ := cachedStores(t)
	id, token, err := owner.Create(ctx, nil, "revoked here")
	if err != nil {
		t.Fatal(err)
	}
	mustReadWatermark(t, runtime)
	mustAuthenticate(t, runtime, db, token, id)
	if mustAuthenticate(t, runtime, db, token, id) {
		t.Fatal("not cached")
	}
	owner.Cache = runtime.Cache // one process: the owner's connection, the serving cache
	if err := owner.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.Authenticate(ctx, token); !unauthorized(err) {
		t.Fatalf("right after the revoke in this process: %v, want unauthorized", err)
	}
}

// When the watermark was last read more than MaxStaleness ago (reads failing, or the
// watch stopped), lookups go to the database: a token revoked elsewhere meanwhile is
// refused at once.
func TestStaleWatermarkGoesToTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime, db, clock := cachedStores(t)
	id, token, err := owner.Create(ctx, nil, "stale")
	if err != nil {
		t.Fatal(err)
	}
	mustReadWatermark(t, runtime)
	mustAuthenticate(t, runtime, db, token, id)
	if err := owner.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(MaxStaleness - time.Millisecond)
	if mustAuthenticate(t, runtime, db, token, id) { // no watch runs: the cache answers
		t.Fatal("not cached")
	}
	closed := pgtest.NewPool(t, db.DB.(*pgxpool.Pool).Config().ConnString())
	closed.Close()
	failing := Store{DB: closed, Key: runtime.Key, Cache: runtime.Cache}
	if err := failing.readWatermark(ctx); err == nil {
		t.Fatal("read a watermark through a closed pool")
	}
	*clock = clock.Add(time.Millisecond)
	before := db.lookups.Load()
	if _, err := runtime.Authenticate(ctx, token); !unauthorized(err) || db.lookups.Load() != before+1 {
		t.Fatalf("with a stale watermark: %v after %d lookups, want unauthorized after 1", err, db.lookups.Load()-before)
	}
}

// Any write to board_tokens drops the cache, even one undone before the watermark is
// read again: the companies of a cached token never change unseen.
func TestAnyChangeDropsTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime, db, _ := cachedStores(t)
	id, token, err := owner.Create(ctx, []string{"co"}, "changed")
	if err != nil {
		t.Fatal(err)
	}
	mustReadWatermark(t, runtime)
	mustAuthenticate(t, runtime, db, token, id)
	for _, stmt := range []string{`UPDATE board_tokens SET companies = '{other}'`, `UPDATE board_tokens SET companies = '{co}'`} {
		if _, err := owner.DB.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if mustAuthenticate(t, runtime, db, token, id) {
		t.Fatal("not cached")
	}
	mustReadWatermark(t, runtime)
	if !mustAuthenticate(t, runtime, db, token, id) {
		t.Fatal("a change (undone) to the table left the cache in place")
	}
	if _, err := owner.DB.Exec(ctx, `UPDATE board_tokens SET companies = '{other}'`); err != nil {
		t.Fatal(err)
	}
	mustReadWatermark(t, runtime)
	if a, err := runtime.Authenticate(ctx, token); err != nil || strings.Join(a.Companies, ",") != "other" {
		t.Fatalf("after the companies changed: %+v %v", a, err)
	}
}

// The cache never holds more than CacheSize tokens, and a lookup that began before a
// drop does not put back what the drop was for.
func TestCacheBounds(t *testing.T) {
	t.Parallel()
	c := NewCache()
	for i := range CacheSize + 100 {
		_, g, _ := c.get([]byte{byte(i), byte(i >> 8)})
		c.put([]byte{byte(i), byte(i >> 8)}, actor.Actor{ID: "tok"}, g)
		if len(c.actors) > CacheSize {
			t.Fatalf("%d tokens cached, over %d", len(c.actors), CacheSize)
		}
	}
	if len(c.actors) != CacheSize {
		t.Fatalf("%d tokens cached, want %d", len(c.actors), CacheSize)
	}
	c.observe("w1", time.Now())
	_, g, _ := c.get([]byte("late"))
	c.observe("w2", time.Now()) // the table changed while the lookup ran
	c.put([]byte("late"), actor.Actor{ID: "tok"}, g)
	if _, _, ok := c.get([]byte("late")); ok || len(c.actors) != 0 {
		t.Fatalf("a lookup from before the drop was kept (%d cached)", len(c.actors))
	}
}
