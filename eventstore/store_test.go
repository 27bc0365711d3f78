package eventstore_test

import (
	"context"
	"encoding/json"
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
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// startStore runs a Store's writer for the duration of the test.
func startStore(t testing.TB, pool *pgxpool.Pool, cfg eventstore.Config) *eventstore.Store {
	t.Helper()
	if cfg.Authenticator == nil {
		cfg.Authenticator = pgtest.IntegrityKey
	}
	s := eventstore.New(pool, cfg)
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

func ev(typ, company string, payload any) eventstore.EventData {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return eventstore.EventData{Type: typ, SchemaVersion: 1, CompanyID: company, Payload: b}
}

func wantCode(t *testing.T, err error, code ledgererr.Code) {
	t.Helper()
	if got := ledgererr.CodeOf(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestAppendAndRead(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()

	first := ev("secret.created", "co-1", map[string]any{"name": "OpenAI", "n": 1.50, "z": "<&>"})
	first.Metadata = eventstore.Metadata{ActorType: "board", ActorID: "op-1", RequestID: "req-1"}
	res, err := s.Append(ctx, "secret-a", eventstore.NoStream, first, ev("secret.version_added", "co-1", map[string]int{"version": 2}))
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstPosition != 1 || res.LastPosition != 2 || res.StreamVersion != 2 || len(res.EventIDs) != 2 || res.Replayed {
		t.Fatalf("unexpected result %+v", res)
	}
	if res.EventIDs[0].Compare(res.EventIDs[1]) >= 0 {
		t.Fatalf("event ids not increasing: %v", res.EventIDs)
	}
	if _, err := s.Append(ctx, "secret-b", eventstore.NoStream, ev("secret.created", "co-2", map[string]string{})); err != nil {
		t.Fatal(err)
	}

	got, err := s.ReadStream(ctx, "secret-a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].StreamVersion != 1 || got[1].StreamVersion != 2 || got[1].Type != "secret.version_added" {
		t.Fatalf("stream read = %+v", got)
	}
	if got[0].Metadata != first.Metadata || got[0].CompanyID != "co-1" || got[0].EventID != res.EventIDs[0] {
		t.Fatalf("envelope not round-tripped: %+v", got[0])
	}
	var payload map[string]any
	if err := json.Unmarshal(got[0].Payload, &payload); err != nil || payload["name"] != "OpenAI" || payload["z"] != "<&>" {
		t.Fatalf("payload = %s (%v)", got[0].Payload, err)
	}
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
	if empty, err := s.ReadStream(ctx, "no-such-stream", 0, 10); err != nil || len(empty) != 0 {
		t.Fatalf("missing stream read = %v, %v", empty, err)
	}
}

func TestStaleExpectedVersionIsAConflictAndWritesNothing(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	if _, err := s.Append(ctx, "secret-a", eventstore.NoStream, ev("secret.created", "co", struct{}{})); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx, "secret-a", eventstore.NoStream, ev("secret.created", "co", struct{}{}))
	wantCode(t, err, ledgererr.Conflict)
	_, err = s.Append(ctx, "secret-a", 5, ev("secret.updated", "co", struct{}{}))
	wantCode(t, err, ledgererr.Conflict)
	if head, _ := s.HeadPosition(ctx); head != 1 {
		t.Fatalf("a refused append wrote something: head = %d", head)
	}
	if _, err := s.Append(ctx, "secret-a", 1, ev("secret.updated", "co", struct{}{})); err != nil {
		t.Fatalf("append at the right version: %v", err)
	}
	if _, err := s.Append(ctx, "secret-a", eventstore.AnyVersion, ev("secret.updated", "co", struct{}{})); err != nil {
		t.Fatalf("append at any version: %v", err)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	keyed := func(payload any) eventstore.EventData {
		e := ev("secret.created", "co", payload)
		e.Metadata.IdempotencyKey = "key-1"
		return e
	}
	first, err := s.Append(ctx, "secret-a", eventstore.NoStream, keyed(map[string]string{"name": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, "secret-a", eventstore.NoStream, keyed(map[string]string{"name": "a"}))
	if err != nil {
		t.Fatalf("retry with the same key and request: %v", err)
	}
	if !again.Replayed || again.FirstPosition != first.FirstPosition || again.StreamVersion != first.StreamVersion {
		t.Fatalf("retry result %+v, want the first result %+v", again, first)
	}
	_, err = s.Append(ctx, "secret-a", eventstore.NoStream, keyed(map[string]string{"name": "b"}))
	wantCode(t, err, ledgererr.Conflict)
	// The same key in another company is another key.
	other := keyed(map[string]string{"name": "b"})
	other.CompanyID = "co-2"
	if _, err := s.Append(ctx, "secret-b", eventstore.NoStream, other); err != nil {
		t.Fatalf("same key, other company: %v", err)
	}
	// An explicit request hash decides sameness, not the events (which may carry fresh ids).
	idem := &eventstore.Idempotency{Key: "key-2", RequestHash: []byte("request-x")}
	r1, err := s.AppendIdempotent(ctx, idem, "secret-c", eventstore.NoStream, ev("secret.created", "co", map[string]string{"id": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.AppendIdempotent(ctx, idem, "secret-d", eventstore.NoStream, ev("secret.created", "co", map[string]string{"id": "2"}))
	if err != nil || !r2.Replayed || r2.StreamID != "secret-c" || r2.LastPosition != r1.LastPosition {
		t.Fatalf("replay by request hash = %+v, %v", r2, err)
	}
	if head, _ := s.HeadPosition(ctx); head != 3 {
		t.Fatalf("head = %d, want 3 (replays and conflicts write nothing)", head)
	}
}

func TestBadInputIsRefusedAlone(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	bad := []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"no stream", "", []eventstore.EventData{ev("x.y", "co", 1)}},
		{"no events", "s", nil},
		{"no type", "s", []eventstore.EventData{{SchemaVersion: 1, Payload: []byte(`{}`)}}},
		{"no schema version", "s", []eventstore.EventData{{Type: "x.y", Payload: []byte(`{}`)}}},
		{"invalid json", "s", []eventstore.EventData{{Type: "x.y", SchemaVersion: 1, Payload: []byte(`{`)}}},
		{"nul in json", "s", []eventstore.EventData{{Type: "x.y", SchemaVersion: 1, Payload: []byte(`{"a":"\u0000"}`)}}},
		{"two companies", "s", []eventstore.EventData{ev("x.y", "a", 1), ev("x.y", "b", 1)}},
	}
	for _, tc := range bad {
		_, err := s.Append(ctx, tc.stream, eventstore.AnyVersion, tc.events...)
		if ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("%s: error %v, want EINVALID", tc.name, err)
		}
	}
	if head, _ := s.HeadPosition(ctx); head != 0 {
		t.Fatalf("bad input wrote events: head = %d", head)
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

// Many callers race to create the same stream: the group-commit writer may put them in
// one transaction, yet each gets its own answer: exactly one wins.
func TestGroupCommitGivesEachCallerItsOwnConflict(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{MaxBatchWait: 5 * time.Millisecond})
	ctx := context.Background()
	const callers = 32
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, "contended", eventstore.NoStream, ev("x.created", "co", i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won, lost := 0, 0
	for err := range errs {
		switch ledgererr.CodeOf(err) {
		case "":
			won++
		case ledgererr.Conflict:
			lost++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 || lost != callers-1 {
		t.Fatalf("won %d, lost %d; want 1 and %d", won, lost, callers-1)
	}
}

func TestStoppedStoreRefusesAppends(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if _, err := s.Append(context.Background(), "s", eventstore.NoStream, ev("x.y", "co", 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	_, err := s.Append(context.Background(), "s", 1, ev("x.y", "co", 2))
	wantCode(t, err, ledgererr.Unavailable)
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
	s := startStore(t, pool, eventstore.Config{IdempotencyTTL: time.Hour, Clock: clock})
	ctx := context.Background()
	appendWith := func(key, request string) (eventstore.AppendResult, error) {
		idem := &eventstore.Idempotency{Key: key, RequestHash: []byte(request)}
		return s.AppendIdempotent(ctx, idem, "secret-"+request, eventstore.AnyVersion, ev("secret.created", "co", map[string]string{"r": request}))
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

func TestIdempotentLooksUpAKeyBeforeAnyAppend(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	idem := &eventstore.Idempotency{Key: "key-x", RequestHash: []byte("request-1")}
	if _, found, err := s.Idempotent(ctx, "co", idem); found || err != nil {
		t.Fatalf("unused key: found %v, %v", found, err)
	}
	first, err := s.AppendIdempotent(ctx, idem, "secret-x", eventstore.NoStream, ev("secret.created", "co", map[string]string{"a": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	res, found, err := s.Idempotent(ctx, "co", idem)
	if !found || err != nil || !res.Replayed || res.LastPosition != first.LastPosition || res.StreamID != "secret-x" {
		t.Fatalf("same request: %+v %v %v", res, found, err)
	}
	_, found, err = s.Idempotent(ctx, "co", &eventstore.Idempotency{Key: "key-x", RequestHash: []byte("request-2")})
	wantCode(t, err, ledgererr.Conflict)
	if !found {
		t.Fatal("another request with the key is found as a conflict")
	}
	if _, found, _ := s.Idempotent(ctx, "co-2", idem); found {
		t.Fatal("keys are per company")
	}
}

// An append condition on other streams: met, it writes; broken by a write that landed
// after the decision, it is a conflict and writes nothing. (Within one batch:
// TestDecideChecksConditionsAfterEarlierAppendsOfTheBatch.)
func TestAppendIfChecksTheOtherStreams(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	cond := func(gate int64) []eventstore.StreamVersion {
		return []eventstore.StreamVersion{{Stream: "gate", Version: gate}, {Stream: "never-written", Version: eventstore.NoStream}}
	}
	if _, err := s.AppendIf(ctx, nil, cond(eventstore.NoStream), "log", eventstore.AnyVersion, ev("x.logged", "co", 1)); err != nil {
		t.Fatalf("condition met on empty streams: %v", err)
	}
	if _, err := s.Append(ctx, "gate", eventstore.NoStream, ev("x.closed", "co", struct{}{})); err != nil {
		t.Fatal(err)
	}
	_, err := s.AppendIf(ctx, nil, cond(eventstore.NoStream), "log", eventstore.AnyVersion, ev("x.logged", "co", 2))
	wantCode(t, err, ledgererr.Conflict)
	if head, _ := s.HeadPosition(ctx); head != 2 {
		t.Fatalf("a refused append wrote something: head = %d", head)
	}
	if _, err := s.AppendIf(ctx, nil, cond(1), "log", eventstore.AnyVersion, ev("x.logged", "co", 3)); err != nil {
		t.Fatalf("condition met: %v", err)
	}
	_, err = s.AppendIf(ctx, nil, []eventstore.StreamVersion{{Stream: ""}}, "log", eventstore.AnyVersion, ev("x.logged", "co", 4))
	wantCode(t, err, ledgererr.Invalid)

}
