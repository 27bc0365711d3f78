package eventstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// recordingObserver keeps what the writer reported.
type recordingObserver struct {
	mu        sync.Mutex
	batches   []int
	conflicts map[string]int
	sealed    int
}

func (o *recordingObserver) Sealed(events int, lag time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if lag <= 0 {
		panic("a sealed batch without a lag")
	}
	o.sealed += events
}

func (o *recordingObserver) SealFailed(err error) { panic(err) }

func (o *recordingObserver) BatchCommitted(events int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		panic("a batch without a duration")
	}
	o.batches = append(o.batches, events)
}

func (o *recordingObserver) Conflict(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.conflicts[kind]++
}

func TestObserverHearsBatchesAndEachKindOfConflict(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE names (name text PRIMARY KEY, position bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	obs := &recordingObserver{conflicts: map[string]int{}}
	s := startStore(t, pool, eventstore.Config{Projector: nameProjector{}, Observer: obs})
	named := func(name string) eventstore.EventData { return ev("x.named", "co", map[string]string{"name": name}) }

	if _, err := s.Append(ctx, "a", eventstore.NoStream, named("alpha"), named("beta")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "a", eventstore.NoStream, named("gamma")); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("stale version: %v", err)
	}
	idem := &eventstore.Idempotency{Key: "k", RequestHash: []byte("one")}
	if _, err := s.AppendWith(ctx, eventstore.Append{Stream: "b", Expected: eventstore.NoStream, Idempotency: idem, Events: []eventstore.EventData{named("delta")}}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.AppendWith(ctx, eventstore.Append{Stream: "b", Expected: eventstore.NoStream, Idempotency: idem, Events: []eventstore.EventData{named("delta")}}); err != nil || !res.Replayed {
		t.Fatalf("replay: %+v %v", res, err)
	}
	other := &eventstore.Idempotency{Key: "k", RequestHash: []byte("two")}
	if _, err := s.AppendWith(ctx, eventstore.Append{Stream: "c", Expected: eventstore.NoStream, Idempotency: other, Events: []eventstore.EventData{named("epsilon")}}); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("reused key: %v", err)
	}
	if _, err := s.Append(ctx, "d", eventstore.NoStream, named("alpha")); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("taken name: %v", err)
	}

	if _, err := s.SealedThrough(ctx); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// Refusals and replays commit nothing; the taken name failed its transaction.
	if got, want := obs.batches, []int{2, 1}; !slices.Equal(got, want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	if obs.sealed != 3 {
		t.Errorf("the sealer reported %d events sealed, want 3", obs.sealed)
	}
	want := map[string]int{eventstore.ConflictVersion: 1, eventstore.ConflictIdempotency: 1, eventstore.ConflictUnique: 1}
	for k, n := range want {
		if obs.conflicts[k] != n {
			t.Errorf("conflicts %v, want %v", obs.conflicts, want)
		}
	}
}
