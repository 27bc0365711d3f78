package eventstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// Statements commit with an accepted append and only with it; a stale version names
// its stream; the Recorded hook has seen every committed event before its appender
// returns.
func TestAppendWithStatementsAndRecorded(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE side_rows (id text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int64{} // stream → newest version the hook saw
	s := startStore(t, pool, eventstore.Config{Recorded: func(evs []eventstore.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			seen[e.StreamID] = e.StreamVersion
		}
	}})
	side := func(id string) eventstore.Statement {
		return eventstore.Statement{SQL: `INSERT INTO side_rows VALUES ($1)`, Args: []any{id}}
	}
	var counted int64
	count := eventstore.Statement{SQL: `SELECT count(*) FROM side_rows`, Row: func(r pgx.Row) error { return r.Scan(&counted) }}

	res, err := s.AppendWith(ctx, eventstore.Append{Stream: "a", Expected: eventstore.NoStream,
		Events:     []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 1})},
		Statements: []eventstore.Statement{side("one"), count}})
	if err != nil {
		t.Fatal(err)
	}
	if counted != 1 {
		t.Errorf("the read-back statement saw %d side rows, want 1 (its own append's)", counted)
	}
	mu.Lock()
	if seen["a"] != res.StreamVersion {
		t.Errorf("Recorded saw stream a at %d when the append returned version %d", seen["a"], res.StreamVersion)
	}
	mu.Unlock()

	// A stale expected version: nothing written, its statement not run.
	_, err = s.AppendWith(ctx, eventstore.Append{Stream: "a", Expected: eventstore.NoStream,
		Events: []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 2})}, Statements: []eventstore.Statement{side("two")}})
	wantCode(t, err, ledgererr.Conflict)
	// A stale version: ECONFLICT whose cause names the stream and both versions.
	_, err = s.AppendWith(ctx, eventstore.Append{Stream: "c", Expected: eventstore.AnyVersion,
		Events:    []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 3})},
		Condition: []eventstore.StreamVersion{{Stream: "a", Version: 7}}, Statements: []eventstore.Statement{side("three")}})
	wantCode(t, err, ledgererr.Conflict)
	var stale *eventstore.StaleError
	if !errors.As(err, &stale) || stale.Stream != "a" || stale.Version != 1 || stale.Expected != 7 {
		t.Fatalf("stale append: %v, cause %+v", err, stale)
	}
	var rows, events int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM side_rows), (SELECT count(*) FROM ledger_log)`).Scan(&rows, &events); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || events != 1 {
		t.Errorf("after one accepted and two refused appends: %d side rows and %d events, want 1 and 1", rows, events)
	}

	// An idempotent replay runs no statement: the first append's did.
	idem := &eventstore.Idempotency{Key: "k1"}
	for i := range 2 {
		res, err := s.AppendWith(ctx, eventstore.Append{Stream: "d", Expected: eventstore.AnyVersion, Idempotency: idem,
			Events: []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 4})}, Statements: []eventstore.Statement{side("four")}})
		if err != nil || res.Replayed != (i == 1) {
			t.Fatalf("append %d with key k1: replayed %v, %v", i, res.Replayed, err)
		}
	}
}

// A hook added with OnRecorded before the writer starts hears every committed batch
// after Config.Recorded, before the appender returns.
func TestOnRecordedAddsAHook(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	var mu sync.Mutex
	var heard []string
	hook := func(name string) func([]eventstore.Event) {
		return func(evs []eventstore.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range evs {
				heard = append(heard, name+":"+e.StreamID)
			}
		}
	}
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Recorded: hook("config")})
	s.OnRecorded(hook("added"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := s.Append(ctx, "a", eventstore.NoStream, ev("x.done", "co", map[string]int{"n": 1})); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 2 || heard[0] != "config:a" || heard[1] != "added:a" {
		t.Fatalf("the hooks heard %v, want config:a then added:a", heard)
	}
}
