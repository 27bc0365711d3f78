package eventstore_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/eventstore/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// startStore returns a Store over pool (with the tests' integrity key unless cfg has
// one), its writer running for the duration of the test.
func startStore(t testing.TB, pool *pgxpool.Pool, cfg eventstore.Config) *eventstore.Store {
	t.Helper()
	if cfg.Authenticator == nil {
		cfg.Authenticator = pgtest.IntegrityKey
	}
	return run(t, eventstore.New(pool, cfg))
}

// run runs s's writer for the duration of the test.
func run(t testing.TB, s *eventstore.Store) *eventstore.Store {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("store Run: %v", err)
		}
	})
	return s
}

// sealed waits until the sealer has chained every append s acknowledged so far.
func sealed(t testing.TB, s *eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.SealedThrough(ctx); err != nil {
		t.Fatalf("waiting for the sealer: %v", err)
	}
}

// sealOnce is Seal until it seals something or stops: a Seal that found the events not
// yet final (a transaction of another test holds the cluster's xmin back) seals nothing.
func sealOnce(t testing.TB, s *eventstore.Store) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		n, err := s.Seal(ctx)
		if n > 0 || err != nil || ctx.Err() != nil {
			return n, err
		}
	}
}

// ev and wantCode are the contract suite's helpers.
var (
	ev       = storetest.Event
	wantCode = storetest.WantCode
)

// The PostgreSQL store keeps the log's contract (the same suite runs against memlog).
func TestStoreKeepsTheLogContract(t *testing.T) {
	storetest.Run(t, storetest.Implementation{SQL: true, New: func(t *testing.T) storetest.Log {
		pool, _ := pgtest.NewMigratedPool(t)
		return startStore(t, pool, eventstore.Config{})
	}})
}

// What only the PostgreSQL store has: the log across streams, its head, the hash chain.
func TestAppendAndReadTheLog(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	if _, err := s.Append(ctx, "secret-a", eventstore.NoStream, ev("secret.created", "co-1", map[string]string{"name": "a"}),
		ev("secret.version_added", "co-1", map[string]int{"version": 2})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "secret-b", eventstore.NoStream, ev("secret.created", "co-2", map[string]string{})); err != nil {
		t.Fatal(err)
	}
	sealed(t, s)
	all, err := s.ReadAll(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Position != 2 || all[1].Position != 3 || all[1].StreamID != "secret-b" {
		t.Fatalf("ReadAll(after 1) = %+v", all)
	}
	if head, _ := s.HeadPosition(ctx); head != 3 {
		t.Fatalf("head = %d, want 3", head)
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Checked != 3 || rep.HeadPosition != 3 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestEventsAreImmutable(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	if _, err := s.Append(ctx, "s", eventstore.NoStream, ev("x.y", "co", 1)); err != nil {
		t.Fatal(err)
	}
	sealed(t, s)
	for _, stmt := range []string{
		`UPDATE ledger_events SET payload = '2'`,
		`DELETE FROM ledger_events`,
		`TRUNCATE ledger_events`,
	} {
		_, err := pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "LE001" {
			t.Errorf("%s: error %v, want SQLSTATE LE001", stmt, err)
		}
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Checked != 1 {
		t.Fatalf("Verify after refused changes = %+v, %v", rep, err)
	}
}

// Appends need no sealer: they commit, read back and count for the next append's
// version at once; Run then chains them, and Verify covers them.
func TestAppendsCommitWithoutTheSealerWhichChainsThemLater(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey})
	ctx := context.Background()
	for v := range int64(3) {
		if _, err := s.Append(ctx, "s", v, ev("x.y", "co", v)); err != nil {
			t.Fatal(err)
		}
	}
	if evs, err := s.ReadStream(ctx, "s", 0, 10); err != nil || len(evs) != 3 || evs[2].StreamVersion != 3 {
		t.Fatalf("ReadStream before sealing = %d events, %v", len(evs), err)
	}
	if head, err := s.HeadPosition(ctx); err != nil || head != 0 {
		t.Fatalf("sealed head before the sealer ran = %d, %v; want 0", head, err)
	}
	if n, err := sealOnce(t, s); err != nil || n != 3 {
		t.Fatalf("Seal = %d, %v; want 3", n, err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Checked != 3 {
		t.Fatalf("Verify after sealing = %+v, %v", rep, err)
	}
}

func TestReadLimits(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey})
	for _, limit := range []int{0, -1, eventstore.MaxReadLimit + 1} {
		_, err := s.ReadAll(context.Background(), 0, limit)
		wantCode(t, err, ledgererr.Invalid)
	}
}

func TestIdempotencyKeysExpire(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := run(t, eventstore.NewWithClock(pool, eventstore.Config{IdempotencyTTL: time.Hour, Authenticator: pgtest.IntegrityKey}, clock))
	ctx := context.Background()
	appendWith := func(key, request string) (eventstore.AppendResult, error) {
		return s.AppendWith(ctx, eventstore.Append{Stream: "secret-" + request, Expected: eventstore.AnyVersion,
			Idempotency: &eventstore.Idempotency{Key: key, RequestHash: []byte(request)},
			Events:      []eventstore.EventData{ev("secret.created", "co", map[string]string{"r": request})}})
	}
	if _, err := appendWith("key-a", "x"); err != nil {
		t.Fatal(err)
	}
	advance(30 * time.Minute)
	_, err := appendWith("key-a", "y")
	wantCode(t, err, ledgererr.Conflict) // within the TTL the key is taken

	advance(31 * time.Minute)
	res, err := appendWith("key-a", "y")
	if err != nil || res.Replayed {
		t.Fatalf("after the TTL the key is free: %+v, %v", res, err)
	}
	again, err := appendWith("key-a", "y")
	if err != nil || !again.Replayed || again.LastPosition != res.LastPosition {
		t.Fatalf("the reused key now replays its new request: %+v, %v", again, err)
	}
	if _, err := appendWith("key-b", "z"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepIdempotencyKeys(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of live keys deleted %d, %v", n, err)
	}
	advance(time.Hour + time.Second)
	if n, err := s.SweepIdempotencyKeys(ctx); err != nil || n != 2 {
		t.Fatalf("sweep of expired keys deleted %d, %v; want 2", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_idempotency_keys`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d keys left after the sweep (%v)", left, err)
	}
}

// A session the server ends (pg_terminate_backend sends 57P01, as a switchover's fast
// shutdown does) is a fault of availability: the append that meets it tries again on
// another connection or is refused as Unavailable (503), never Internal (500).
func TestTerminatedSessionIsUnavailableNotInternal(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	if _, err := s.Append(ctx, "s", eventstore.NoStream, ev("x.y", "co", 1)); err != nil {
		t.Fatal(err)
	}
	admin := pgtest.NewPool(t, url)
	var ended int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend') t`).Scan(&ended); err != nil || ended == 0 {
		t.Fatalf("terminated %d sessions: %v", ended, err)
	}
	// The append that meets the ended session takes another connection, since nothing
	// of it committed; if every one it tries was ended, it is refused as unavailable,
	// and the next one commits.
	if _, err := s.Append(ctx, "s", 1, ev("x.y", "co", 2)); err != nil {
		wantCode(t, err, ledgererr.Unavailable)
		if _, err := s.Append(ctx, "s", 1, ev("x.y", "co", 2)); err != nil {
			t.Fatalf("the append after the terminated session: %v", err)
		}
	}
}
