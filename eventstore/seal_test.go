package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// Two stores on two pools stand for two ledger processes, each running a sealer.
// Writers contend for four shared streams (optimistic concurrency, retried on conflict)
// while readers append unversioned records conditioned on the version of a shared
// stream they read. Once everything is sealed: every acknowledged event is in the
// chain exactly once, each stream's versions run 1, 2, 3… in position order, and every
// conditioned record comes after exactly the events of its condition stream it read
// (the sealed order respects what each decision saw); the chain verifies.
func TestContendedAppendsSealInEveryStreamsOrder(t *testing.T) {
	t.Parallel()
	pool1, url := pgtest.NewMigratedPool(t)
	pool2 := pgtest.NewPool(t, url)
	stores := []*eventstore.Store{startStore(t, pool1, eventstore.Config{}), startStore(t, pool2, eventstore.Config{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shared := []string{"shared-a", "shared-b", "shared-c", "shared-d"}
	type ack struct {
		id       string
		cond     string // the condition stream of a record, "" for a write
		condAt   int64
		versions bool
	}
	acks := make(chan ack, 4096)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for i := range 60 {
				stream := shared[rand.IntN(len(shared))]
				evs, err := s.ReadStream(ctx, stream, 0, eventstore.MaxReadLimit)
				if err != nil {
					t.Error(err)
					return
				}
				at := int64(len(evs))
				var res eventstore.AppendResult
				if w%2 == 0 { // a writer of the shared stream
					res, err = s.Append(ctx, stream, at, ev("test.written", "co", map[string]int{"w": w, "i": i}))
				} else { // a reader recording that it read the stream at that version
					res, err = s.AppendWith(ctx, eventstore.Append{Stream: fmt.Sprintf("records-%d", w%3), Expected: eventstore.Unversioned,
						Condition: []eventstore.StreamVersion{{Stream: stream, Version: at}},
						Events:    []eventstore.EventData{ev("test.recorded", "co", map[string]int{"w": w, "i": i})}})
				}
				var stale *eventstore.StaleError
				if errors.As(err, &stale) {
					continue // decided on a stale read: nothing written
				}
				if err != nil {
					t.Error(err)
					return
				}
				a := ack{id: res.EventIDs[0].String()}
				if w%2 == 1 {
					a.cond, a.condAt = stream, at
				}
				acks <- a
			}
		}()
	}
	wg.Wait()
	close(acks)
	if t.Failed() {
		return
	}
	sealed(t, stores[0])

	byID := readSealedOrder(t, pool1, shared)
	n := 0
	for a := range acks {
		n++
		e, ok := byID[a.id]
		switch {
		case !ok:
			t.Errorf("acknowledged event %s is not in the chain", a.id)
		case a.cond != "" && e.seenAt[a.cond] != a.condAt:
			t.Errorf("a record conditioned on %s at %d is sealed after %d of its events", a.cond, a.condAt, e.seenAt[a.cond])
		}
	}
	if n != len(byID) || n == 0 {
		t.Fatalf("%d events acknowledged, %d sealed", n, len(byID))
	}
	if rep, err := stores[1].Verify(ctx); err != nil || !rep.OK() || rep.Checked != int64(n) {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// sealedEvent is an event of the sealed log and the versions of the shared streams
// sealed before it.
type sealedEvent struct {
	stream  string
	version int64
	seenAt  map[string]int64
}

// readSealedOrder reads the sealed log by event id, failing on an event sealed twice or
// a stream whose versions do not run 1, 2, 3… in position order.
func readSealedOrder(t *testing.T, pool *pgxpool.Pool, shared []string) map[string]sealedEvent {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT event_id, stream_id, stream_version FROM ledger_events ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]sealedEvent{}
	versions := map[string]int64{}
	var id, stream string
	var version int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &stream, &version}, func() error {
		if _, dup := byID[id]; dup {
			return fmt.Errorf("event %s sealed twice", id)
		}
		if version != versions[stream]+1 {
			return fmt.Errorf("stream %s: version %d sealed after %d", stream, version, versions[stream])
		}
		seen := map[string]int64{}
		for _, s := range shared {
			seen[s] = versions[s]
		}
		versions[stream] = version
		byID[id] = sealedEvent{stream: stream, version: version, seenAt: seen}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return byID
}

// A pending event the writer did not authenticate (inserted with the runtime role's
// credentials) is never chained: the sealer seals what comes before it and stops there,
// until it is dealt with.
func TestTheSealerStopsBeforeAForgedPendingEvent(t *testing.T) {
	t.Parallel()
	s, url := twoSealed(t, "before")
	ctx := context.Background()
	forgePending(t, url, "nextval('ledger_position_seq')", "01FORGEDPENDING00000000000")
	if _, err := s.Append(ctx, "after", eventstore.NoStream, ev("test.appended", "co", 1)); err != nil {
		t.Fatal(err)
	}
	n, err := sealOnce(t, s)
	var se *eventstore.SealError
	if !errors.As(err, &se) || se.Position != 3 || n != 0 {
		t.Fatalf("Seal = %d, %v; want a SealError at position 3", n, err)
	}
	if head, err := s.HeadPosition(ctx); err != nil || head != 2 {
		t.Fatalf("sealed head = %d, %v; want 2", head, err)
	}
	pgtest.Tamper(t, url, `DELETE FROM ledger_appends WHERE position = 3`)
	if n, err := sealOnce(t, s); err != nil || n != 1 {
		t.Fatalf("Seal once the forged event is gone = %d, %v; want 1", n, err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Checked != 3 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// An acknowledged event removed before it was sealed leaves its stream's versions with a
// gap: the sealer stops there rather than chain a history that lost an event.
func TestTheSealerStopsWhereAPendingEventWasRemoved(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey})
	ctx := context.Background()
	for v := range int64(3) {
		if _, err := s.Append(ctx, "s", v, ev("test.appended", "co", v)); err != nil {
			t.Fatal(err)
		}
	}
	pgtest.Tamper(t, url, `DELETE FROM ledger_appends WHERE stream_version = 2`)
	n, err := sealOnce(t, s)
	var se *eventstore.SealError
	if !errors.As(err, &se) || se.Position != 3 || n != 1 {
		t.Fatalf("Seal = %d, %v; want 1 sealed and a SealError at position 3", n, err)
	}
}

// While more events wait for the sealer than the store allows (every sealer down),
// appends are refused as unavailable; they are taken again once it catches up.
func TestAppendsStopWhileTheSealerIsTooFarBehind(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, MaxUnsealed: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go s.WatchBacklog(ctx)
	appendOne := func() error {
		_, err := s.Append(ctx, "s", eventstore.AnyVersion, ev("test.appended", "co", 1))
		return err
	}
	for range 4 {
		if err := appendOne(); err != nil {
			t.Fatal(err)
		}
	}
	for err := appendOne(); ledgererr.CodeOf(err) != ledgererr.Unavailable; err = appendOne() {
		if err != nil || ctx.Err() != nil {
			t.Fatalf("append with the sealer behind: %v; want EUNAVAILABLE", err)
		}
		time.Sleep(50 * time.Millisecond) // the watch reads the backlog every second
	}
	sealed(t, run(t, s))
	for err := appendOne(); err != nil; err = appendOne() {
		if ledgererr.CodeOf(err) != ledgererr.Unavailable || ctx.Err() != nil {
			t.Fatalf("append once the sealer caught up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A pending row at or below the sealed head was not written by a ledger process: the
// sealer never reaches it, and it does not count in the backlog that stops appends.
func TestAPendingRowBelowTheHeadNeitherSealsNorStopsAppends(t *testing.T) {
	t.Parallel()
	s, url := twoSealed(t, "s")
	ctx := context.Background()
	forgePending(t, url, "1", "01FORGEDBELOWHEAD000000000")
	if b, err := s.Backlog(ctx); err != nil || b.Events != 0 {
		t.Fatalf("Backlog = %+v, %v; want no event waiting", b, err)
	}
	if _, err := s.Append(ctx, "s", 2, ev("test.appended", "co", 2)); err != nil {
		t.Fatal(err)
	}
	if n, err := sealOnce(t, s); err != nil || n != 1 {
		t.Fatalf("Seal after the forged row = %d, %v; want the one appended", n, err)
	}
}

// twoSealed is a store, without a running sealer, whose log holds two events of stream,
// sealed, and its database's owner URL.
func twoSealed(t *testing.T, stream string) (*eventstore.Store, string) {
	t.Helper()
	pool, url := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey})
	for v := range int64(2) {
		if _, err := s.Append(context.Background(), stream, v, ev("test.appended", "co", v)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sealOnce(t, s); err != nil || n != 2 {
		t.Fatalf("Seal = %d, %v; want 2", n, err)
	}
	return s, url
}

// forgePending inserts a pending event with no valid MAC at position (an SQL
// expression), as the runtime role: what someone holding only its credentials can do.
func forgePending(t *testing.T, url, position, eventID string) {
	t.Helper()
	runtime := pgtest.NewPool(t, pgtest.RuntimeURL(t, url))
	if _, err := runtime.Exec(context.Background(), `INSERT INTO ledger_appends (position, event_id, stream_id, event_type,
		schema_version, company_id, payload, metadata, recorded_at, mac)
		VALUES (`+position+`, $1, 'forged', 'secret.version_added', 1, 'co', '{}', '{}', now(), '\x00')`, eventID); err != nil {
		t.Fatalf("forged pending insert as the runtime role: %v", err)
	}
}

// A seal that PostgreSQL lost (the sealing transaction commits without waiting for its
// flush, and a crash or a failover loses it) leaves the sealer's memory ahead of the
// log: the events it sealed are pending again. They are sealed again, in order, before
// anything after them; none is skipped and left pending.
func TestALostSealIsSealedAgain(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey})
	ctx := context.Background()
	for v := range int64(2) {
		if _, err := s.Append(ctx, "s", v, ev("test.appended", "co", v)); err != nil {
			t.Fatal(err)
		}
	}
	pgtest.Tamper(t, url, `CREATE TABLE lost_seal AS SELECT * FROM ledger_appends WHERE stream_version = 2`)
	if n, err := sealOnce(t, s); err != nil || n != 2 {
		t.Fatalf("Seal = %d, %v; want 2", n, err)
	}
	// What the lost commit leaves: the second event pending, not sealed.
	pgtest.Tamper(t, url, `ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_no_update_delete;
		DELETE FROM ledger_events WHERE position = (SELECT position FROM lost_seal);
		ALTER TABLE ledger_events ENABLE TRIGGER ledger_events_no_update_delete;
		INSERT INTO ledger_appends SELECT * FROM lost_seal`)
	if _, err := s.Append(ctx, "s", 2, ev("test.appended", "co", 2)); err != nil {
		t.Fatal(err)
	}
	// A seal stops at its probe, which may predate the new append: seal until both are.
	for total := 0; total < 2; {
		n, err := sealOnce(t, s)
		if err != nil {
			t.Fatalf("Seal after the lost seal (%d sealed so far): %v", total, err)
		}
		total += n
	}
	var pending, sealed int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_appends), (SELECT count(*) FROM ledger_events)`).Scan(&pending, &sealed); err != nil {
		t.Fatal(err)
	}
	if pending != 0 || sealed != 3 {
		t.Fatalf("%d pending and %d sealed; want 0 and 3", pending, sealed)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Checked != 3 {
		t.Fatalf("Verify after the lost seal was sealed again = %+v, %v", rep, err)
	}
}
