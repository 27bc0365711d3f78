package eventstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// streamKey is the advisory lock key of a stream, as ledger_lock_stream and
// ledger_reserve_batch take it.
const streamKey = `hashtextextended($1, 5915314091)`

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// lockWaiters is the number of sessions of pool's database waiting for an advisory lock.
func lockWaiters(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// inOneBatch appends as to s in one transaction, in their order, and returns each one's
// result and error. Two appends to a stream whose lock the test holds (on its own pool,
// aside) take both of the store's transactions; as queue behind them one by one; once
// the lock is released, the first transaction to end takes all of them.
func inOneBatch(t *testing.T, aside *pgxpool.Pool, s *eventstore.Store, as []eventstore.Append) ([]eventstore.AppendResult, []error) {
	t.Helper()
	ctx := context.Background()
	hold, err := aside.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Release()
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_lock(`+streamKey+`)`, "gate"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // a test that failed midway still hears every append end
	release := sync.OnceValue(func() error {
		_, err := hold.Exec(ctx, `SELECT pg_advisory_unlock(`+streamKey+`)`, "gate")
		return err
	})
	defer release()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, "gate", eventstore.AnyVersion, ev("test.gate", "co", i)); err != nil {
				t.Errorf("gate append: %v", err)
			}
		}()
		waitFor(t, "the gate appends to wait for the lock", func() bool { return lockWaiters(t, aside) == i+1 })
	}
	res := make([]eventstore.AppendResult, len(as))
	errs := make([]error, len(as))
	for i, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = s.AppendWith(ctx, a)
		}()
		waitFor(t, "the appends to queue", func() bool { return s.Queued() == i+1 })
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return res, errs
}

// committedOnce fails the test unless obs heard exactly one transaction of events
// events besides the two gate appends of inOneBatch.
func committedOnce(t *testing.T, obs *recordingObserver, events int) {
	t.Helper()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	got := slices.Sorted(slices.Values(obs.batches))
	if want := slices.Sorted(slices.Values([]int{1, 1, events})); !slices.Equal(got, want) {
		t.Fatalf("transactions of %v events, want %v (the gates' and one of the batch)", got, want)
	}
}

func wantStale(t *testing.T, err error, stream string, version, expected int64) {
	t.Helper()
	var stale *eventstore.StaleError
	if !errors.As(err, &stale) || *stale != (eventstore.StaleError{Stream: stream, Version: version, Expected: expected}) {
		t.Fatalf("error %v, cause %+v; want stream %s at %d, expected %d", err, stale, stream, version, expected)
	}
}

// In one transaction, each append is checked against the versions the earlier ones
// left: a second append to a stream expects the first's version, a record conditioned
// on that stream reads both; the appends that read an older version are refused.
func TestABatchSeesItsOwnBumps(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	obs := &recordingObserver{conflicts: map[string]int{}}
	s := startStore(t, pool, eventstore.Config{Observer: obs})
	one := []eventstore.EventData{ev("x.done", "co", 1)}
	res, errs := inOneBatch(t, pgtest.NewPool(t, url), s, []eventstore.Append{
		{Stream: "s", Expected: eventstore.NoStream, Events: one},
		{Stream: "s", Expected: 1, Events: []eventstore.EventData{ev("x.done", "co", 2), ev("x.done", "co", 3)}},
		{Stream: "s", Expected: eventstore.NoStream, Events: one},
		{Stream: "rec", Expected: eventstore.Unversioned, Events: one, Condition: []eventstore.StreamVersion{{Stream: "s", Version: 3}}},
		{Stream: "rec", Expected: eventstore.Unversioned, Events: one, Condition: []eventstore.StreamVersion{{Stream: "s", Version: 1}}},
	})
	for _, i := range []int{0, 1, 3} {
		if errs[i] != nil {
			t.Fatalf("append %d: %v", i, errs[i])
		}
	}
	if res[0].StreamVersion != 1 || res[1].StreamVersion != 3 || res[1].FirstPosition <= res[0].LastPosition ||
		res[1].LastPosition <= res[1].FirstPosition {
		t.Fatalf("the two appends to s: %+v and %+v", res[0], res[1])
	}
	wantStale(t, errs[2], "s", 3, eventstore.NoStream)
	wantStale(t, errs[4], "s", 3, 1)
	committedOnce(t, obs, 4)
	sealed(t, s)
	evs, err := s.ReadStream(context.Background(), "s", 0, eventstore.MaxReadLimit)
	if err != nil || len(evs) != 3 || evs[0].StreamVersion != 1 || evs[2].StreamVersion != 3 || evs[2].Position != res[1].LastPosition {
		t.Fatalf("stream s after the batch: %+v, %v", evs, err)
	}
}

// In one transaction, an append whose decision read a stream since written is refused,
// naming the first such stream in stream id order, and changes nothing: the next append
// to its stream, at the version it expected, goes ahead.
func TestABatchRefusesAStaleReadStream(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	obs := &recordingObserver{conflicts: map[string]int{}}
	s := startStore(t, pool, eventstore.Config{Observer: obs})
	ctx := context.Background()
	for _, stream := range []string{"policy-a", "policy-b", "policy-c"} {
		if _, err := s.Append(ctx, stream, eventstore.NoStream, ev("x.set", "co", stream)); err != nil {
			t.Fatal(err)
		}
	}
	obs.mu.Lock()
	obs.batches = nil
	obs.mu.Unlock()
	two := []eventstore.EventData{ev("x.done", "co", 1), ev("x.done", "co", 2)}
	_, errs := inOneBatch(t, pgtest.NewPool(t, url), s, []eventstore.Append{
		{Stream: "x", Expected: eventstore.NoStream, Events: two,
			Condition: []eventstore.StreamVersion{{Stream: "policy-b", Version: 0}, {Stream: "policy-a", Version: 0}, {Stream: "policy-c", Version: 0}}},
		{Stream: "x", Expected: eventstore.NoStream, Events: two,
			Condition: []eventstore.StreamVersion{{Stream: "policy-a", Version: 1}, {Stream: "policy-b", Version: 1}}},
		{Stream: "y", Expected: eventstore.NoStream, Events: two, Condition: []eventstore.StreamVersion{{Stream: "policy-b", Version: 7}}},
	})
	wantStale(t, errs[0], "policy-a", 1, 0)
	if errs[1] != nil {
		t.Fatalf("the append after a refused one: %v", errs[1])
	}
	wantStale(t, errs[2], "policy-b", 1, 7)
	committedOnce(t, obs, 2)
	var versions []int64
	if err := pool.QueryRow(ctx, `SELECT array_agg(version ORDER BY stream_id) FROM ledger_streams
		WHERE stream_id IN ('policy-a', 'policy-b', 'x', 'y')`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int64{1, 1, 2, 0}) {
		t.Fatalf("counters of policy-a, policy-b, x, y: %v, want [1 1 2 0]", versions)
	}
}

// In one transaction, a key an earlier append of it claimed is replayed with that
// append's result (not checked against the version that append left), or refused for
// another request; a key of an earlier transaction is replayed too.
func TestABatchReplaysTheKeysItClaims(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	obs := &recordingObserver{conflicts: map[string]int{}}
	s := startStore(t, pool, eventstore.Config{Observer: obs})
	ctx := context.Background()
	old := &eventstore.Idempotency{Key: "old", RequestHash: []byte("old request")}
	first, err := s.AppendWith(ctx, eventstore.Append{Stream: "k-old", Expected: eventstore.NoStream, Idempotency: old,
		Events: []eventstore.EventData{ev("x.done", "co", 0)}})
	if err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	obs.batches = nil
	obs.mu.Unlock()
	key := &eventstore.Idempotency{Key: "new", RequestHash: []byte("request 1")}
	one := []eventstore.EventData{ev("x.done", "co", 1)}
	res, errs := inOneBatch(t, pgtest.NewPool(t, url), s, []eventstore.Append{
		{Stream: "k1", Expected: eventstore.NoStream, Idempotency: key, Events: one},
		{Stream: "k1", Expected: eventstore.NoStream, Idempotency: key, Events: one},
		{Stream: "k2", Expected: eventstore.NoStream, Idempotency: &eventstore.Idempotency{Key: "new", RequestHash: []byte("request 2")}, Events: one},
		{Stream: "k-old", Expected: eventstore.NoStream, Idempotency: old, Events: []eventstore.EventData{ev("x.done", "co", 0)}},
		{Stream: "k3", Expected: eventstore.NoStream, Events: []eventstore.EventData{ev("x.done", "co", 3), ev("x.done", "co", 4)}},
	})
	for _, i := range []int{0, 1, 3, 4} {
		if errs[i] != nil {
			t.Fatalf("append %d: %v", i, errs[i])
		}
	}
	if res[0].Replayed || !res[1].Replayed || res[1].StreamID != "k1" || res[1].StreamVersion != 1 ||
		res[1].FirstPosition != res[0].FirstPosition || res[1].LastPosition != res[0].LastPosition {
		t.Fatalf("the first append with key new: %+v; the second: %+v", res[0], res[1])
	}
	wantCode(t, errs[2], ledgererr.Conflict)
	var stale *eventstore.StaleError
	if errors.As(errs[2], &stale) {
		t.Fatalf("another request with key new: %v, want an idempotency conflict", errs[2])
	}
	if !res[3].Replayed || res[3].FirstPosition != first.FirstPosition || res[3].StreamVersion != 1 {
		t.Fatalf("key old again: %+v, want a replay of %+v", res[3], first)
	}
	committedOnce(t, obs, 3)
	kept, found, err := s.Idempotent(ctx, "co", key)
	if err != nil || !found || kept.FirstPosition != res[0].FirstPosition || kept.StreamVersion != 1 {
		t.Fatalf("key new after the batch: %+v %v %v, want the result %+v", kept, found, err, res[0])
	}
}

// An expected version on a stream whose unversioned events wait for the sealer is
// refused (SQLSTATE LE002) and gives the stream no counter; the transaction it failed is
// tried again append by append, so the other appends of the batch go ahead.
func TestAnExpectedVersionOnAnUnversionedStreamIsRefused(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey}) // no sealer: the events wait
	ctx := context.Background()
	if _, err := s.AppendWith(ctx, eventstore.Append{Stream: "acc", Expected: eventstore.Unversioned,
		Events: []eventstore.EventData{ev("x.accessed", "co", 1)}}); err != nil {
		t.Fatal(err)
	}
	one := []eventstore.EventData{ev("x.done", "co", 1)}
	_, errs := inOneBatch(t, pgtest.NewPool(t, url), s, []eventstore.Append{
		{Stream: "before", Expected: eventstore.NoStream, Events: one},
		{Stream: "acc", Expected: eventstore.NoStream, Events: one},
		{Stream: "after", Expected: eventstore.NoStream, Events: one},
	})
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the other appends of the batch: %v, %v", errs[0], errs[2])
	}
	var pgErr *pgconn.PgError
	if !errors.As(errs[1], &pgErr) || pgErr.Code != "LE002" {
		t.Fatalf("expected version on an unversioned stream: %v, want SQLSTATE LE002", errs[1])
	}
	var counters int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_streams WHERE stream_id = 'acc'`).Scan(&counters); err != nil || counters != 0 {
		t.Fatalf("the unversioned stream has %d counters (%v)", counters, err)
	}
}

// ledger_reserve_batch locks each stream once, in stream id order, whatever the order
// its appends name them in: exclusively a stream an append writes with a counter, shared
// one only read, and not at all one written unversioned. Its positions ascend from one
// append to the next.
func TestReserveBatchLocksEachStreamOnceInOrder(t *testing.T) {
	t.Parallel()
	type reserved struct {
		outcome   string
		positions []int64
	}
	pool, _ := pgtest.NewMigratedPool(t)
	ctx := context.Background()
	hold, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Release()
	// Held aside, "m" makes the batch wait midway: the streams before it are locked.
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_lock(`+streamKey+`)`, "m"); err != nil {
		t.Fatal(err)
	}
	release := sync.OnceValue(func() error {
		_, err := hold.Exec(ctx, `SELECT pg_advisory_unlock(`+streamKey+`)`, "m")
		return err
	})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []reserved, 1)
	defer func() {
		_ = release()
		for range done { // the batch has ended before its transaction does
		}
		_ = tx.Rollback(ctx)
	}()
	var pid int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		rows, err := tx.Query(ctx, `SELECT outcome, positions FROM ledger_reserve_batch(
				ARRAY['z', 'u', 'm', 'z'], ARRAY[-1, -2, -1, -1]::bigint[], ARRAY[2, 1, 1, 3], ARRAY['co', 'co', 'co', 'co'],
				ARRAY[NULL, NULL, NULL, NULL]::text[], ARRAY[NULL, NULL, NULL, NULL]::bytea[],
				ARRAY[2, 3, 3, 4], ARRAY['r', 'a', 'r', 'a'], ARRAY[-1, -1, -1, -1]::bigint[], now(), now())`)
		if err != nil {
			t.Error(err)
			return
		}
		var out []reserved
		for rows.Next() {
			var r reserved
			if err := rows.Scan(&r.outcome, &r.positions); err != nil {
				t.Error(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Error(err)
		}
		done <- out
	}()
	locks := func() map[string]string {
		rows, err := hold.Query(ctx, `SELECT s, l.mode FROM unnest(ARRAY['a', 'm', 'r', 'u', 'z']) AS s
			JOIN pg_locks l ON l.locktype = 'advisory' AND l.pid = $1 AND l.granted
				AND (l.classid::bigint << 32 | l.objid::bigint) = hashtextextended(s, 5915314091)`, pid)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		held := map[string]string{}
		for rows.Next() {
			var s, mode string
			if err := rows.Scan(&s, &mode); err != nil {
				t.Fatal(err)
			}
			held[s] = mode
		}
		return held
	}
	waitFor(t, "the batch to wait for m", func() bool { return lockWaiters(t, pool) == 1 })
	if got := locks(); len(got) != 1 || got["a"] != "ShareLock" {
		t.Fatalf("waiting for m, the batch holds %v, want a shared lock on a only", got)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	out := <-done
	want := map[string]string{"a": "ShareLock", "m": "ExclusiveLock", "r": "ShareLock", "z": "ExclusiveLock"}
	if got := locks(); len(got) != len(want) || got["a"] != want["a"] || got["m"] != want["m"] || got["r"] != want["r"] || got["z"] != want["z"] {
		t.Fatalf("the batch holds %v, want %v", got, want)
	}
	var all []int64
	for i, n := range []int{2, 1, 1, 3} {
		if i >= len(out) || out[i].outcome != "reserved" || len(out[i].positions) != n {
			t.Fatalf("the batch answered %+v", out)
		}
		all = append(all, out[i].positions...)
	}
	for i := 1; i < len(all); i++ {
		if all[i] <= all[i-1] {
			t.Fatalf("positions %v do not ascend", all)
		}
	}
}

// An append whose own expected versions cannot all hold (its stream expected at one
// version and conditioned on another, or one stream conditioned at two) is refused
// before any statement, naming that stream, and writes nothing.
func TestAnAppendThatContradictsItselfIsRefused(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	one := []eventstore.EventData{ev("x.done", "co", 1)}
	_, err := s.AppendWith(ctx, eventstore.Append{Stream: "a", Expected: eventstore.NoStream, Events: one,
		Condition: []eventstore.StreamVersion{{Stream: "a", Version: 2}}})
	wantStale(t, err, "a", eventstore.NoStream, 2)
	_, err = s.AppendWith(ctx, eventstore.Append{Stream: "a", Expected: eventstore.AnyVersion, Events: one,
		Condition: []eventstore.StreamVersion{{Stream: "b", Version: 1}, {Stream: "b", Version: 3}}})
	wantStale(t, err, "b", 1, 3)
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_log`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused appends wrote %d events (%v)", n, err)
	}
}
