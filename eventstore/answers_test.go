package eventstore_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// A kept answer is found for its caller, key and request hash only; the key with
// another hash is a conflict; after the TTL the key is free again (a new answer
// replaces the expired one), and the sweep removes expired answers.
func TestKeptAnswersPerCallerAndTTL(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := eventstore.NewWithClock(pool, eventstore.Config{IdempotencyTTL: time.Hour, Authenticator: pgtest.IntegrityKey}, clock)
	ctx := context.Background()
	if err := s.KeepAnswer(ctx, "board:a", "k", []byte("h1"), []byte("answer 1")); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.KeptAnswer(ctx, "board:a", "k", []byte("h1")); err != nil || !found || !bytes.Equal(got, []byte("answer 1")) {
		t.Fatalf("kept answer: %q %v %v", got, found, err)
	}
	if _, found, err := s.KeptAnswer(ctx, "board:b", "k", []byte("h1")); err != nil || found {
		t.Fatalf("another caller's key: found %v, %v", found, err)
	}
	if _, _, err := s.KeptAnswer(ctx, "board:a", "k", []byte("h2")); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("the key for another request: %v", err)
	}
	// A second answer for a live key (a request that raced the first) does not replace it.
	if err := s.KeepAnswer(ctx, "board:a", "k", []byte("h1"), []byte("answer 2")); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.KeptAnswer(ctx, "board:a", "k", []byte("h1")); !bytes.Equal(got, []byte("answer 1")) {
		t.Fatalf("the first answer was replaced by %q", got)
	}
	advance(time.Hour + time.Second)
	if _, found, err := s.KeptAnswer(ctx, "board:a", "k", []byte("h2")); err != nil || found {
		t.Fatalf("an expired answer: found %v, %v", found, err)
	}
	if err := s.KeepAnswer(ctx, "board:a", "k", []byte("h2"), []byte("answer 3")); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.KeptAnswer(ctx, "board:a", "k", []byte("h2")); err != nil || !found || !bytes.Equal(got, []byte("answer 3")) {
		t.Fatalf("the reused key: %q %v %v", got, found, err)
	}
	if err := s.KeepAnswer(ctx, "board:a", "old", []byte("h"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	advance(time.Hour + time.Second)
	if n, err := s.SweepIdempotencyKeys(ctx); err != nil || n != 2 {
		t.Fatalf("the sweep deleted %d, %v; want 2", n, err)
	}
}
