package lease_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/lease"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// runtimePool is a pool as the server's runtime role: the leases work with its grants.
func runtimePool(t *testing.T) *pgxpool.Pool {
	_, owner := pgtest.NewMigratedPool(t)
	return pgtest.NewPool(t, pgtest.RuntimeURL(t, owner))
}

func newLease(db lease.DB, holder string, ttl time.Duration) *lease.Lease {
	return &lease.Lease{DB: db, Role: lease.Relay, Holder: holder, TTL: ttl, Log: slog.New(slog.DiscardHandler)}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTwoHoldersCompeteExactlyOneHolds(t *testing.T) {
	t.Parallel()
	pool := runtimePool(t)
	ctx := context.Background()
	for round := range 20 {
		role := "race-" + string(rune('a'+round))
		a, b := newLease(pool, "a", time.Minute), newLease(pool, "b", time.Minute)
		a.Role, b.Role = role, role
		var wg sync.WaitGroup
		var okA, okB bool
		var errA, errB error
		wg.Add(2)
		go func() { defer wg.Done(); okA, errA = a.TryAcquire(ctx) }()
		go func() { defer wg.Done(); okB, errB = b.TryAcquire(ctx) }()
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if okA == okB || a.Held() == b.Held() {
			t.Fatalf("round %d: a %v (held %v), b %v (held %v): want exactly one", round, okA, a.Held(), okB, b.Held())
		}
		// The holder renews; the other still cannot take it.
		winner, loser := a, b
		if okB {
			winner, loser = b, a
		}
		if ok, err := winner.TryAcquire(ctx); !ok || err != nil {
			t.Fatalf("renewal: %v %v", ok, err)
		}
		if ok, err := loser.TryAcquire(ctx); ok || err != nil {
			t.Fatalf("the other took a held lease: %v %v", ok, err)
		}
	}
}

func TestRunElectsOneAndReleaseHandsOver(t *testing.T) {
	t.Parallel()
	pool := runtimePool(t)
	ttl := 3 * time.Second
	a, b := newLease(pool, "a", ttl), newLease(pool, "b", ttl)
	var runningA, runningB atomic.Int32
	job := func(n *atomic.Int32) func(context.Context) {
		return func(ctx context.Context) { n.Add(1); <-ctx.Done(); n.Add(-1) }
	}
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { a.Run(ctxA, job(&runningA)); close(doneA) }()
	waitFor(t, ttl, "a holds", func() bool { return a.Held() && runningA.Load() == 1 })
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneB := make(chan struct{})
	go func() { b.Run(ctxB, job(&runningB)); close(doneB) }()
	// b keeps trying (every TTL/3) for a full TTL: a renews, b never runs.
	end := time.Now().Add(ttl + ttl/2)
	for time.Now().Before(end) {
		if b.Held() || runningB.Load() != 0 {
			t.Fatal("b holds while a renews")
		}
		if !a.Held() {
			t.Fatal("a stopped holding while renewing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopA()
	<-doneA
	if a.Held() || runningA.Load() != 0 {
		t.Fatal("a still acts after its Run returned")
	}
	released := time.Now()
	// Released, not expired: b takes over at its next try, well before a TTL.
	waitFor(t, ttl/3+time.Second, "b takes over after the release", func() bool { return b.Held() && runningB.Load() == 1 })
	t.Logf("taken over %s after the release", time.Since(released).Round(time.Millisecond))
	stopB()
	<-doneB
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_leases`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("leases left after both released: %d %v", n, err)
	}
}

func TestAnotherAcquiresOnlyAfterExpiry(t *testing.T) {
	t.Parallel()
	pool := runtimePool(t)
	ctx := context.Background()
	ttl := 2 * time.Second
	a, b := newLease(pool, "a", ttl), newLease(pool, "b", ttl)
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	acquired := time.Now()
	// a stops renewing (as a process that hangs or dies). b polls.
	waitFor(t, 2*ttl, "b acquires after the expiry", func() bool {
		ok, err := b.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok && a.Held() {
			t.Fatal("b acquired while a still considers itself holding")
		}
		return ok
	})
	if since := time.Since(acquired); since < ttl-ttl/5 {
		t.Fatalf("b acquired %s after a: before the expiry", since)
	}
	if a.Held() {
		t.Fatal("a holds an expired lease")
	}
	// a, back, cannot take it from b.
	if ok, err := a.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("a took b's lease back: %v %v", ok, err)
	}
	if a.Held() {
		t.Fatal("a holds after a refused renewal")
	}
}

// failingDB fails every statement once failing is set, as a database or pooler that
// is unreachable.
type failingDB struct {
	lease.DB
	failing atomic.Bool
}

var errDown = errors.New("database down")

func (f *failingDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if f.failing.Load() {
		return errRow{}
	}
	return f.DB.QueryRow(ctx, sql, args...)
}

func (f *failingDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if f.failing.Load() {
		return pgconn.CommandTag{}, errDown
	}
	return f.DB.Exec(ctx, sql, args...)
}

type errRow struct{}

func (errRow) Scan(...any) error { return errDown }

func TestAHolderWhoseRenewalFailsStopsBeforeTheExpiry(t *testing.T) {
	t.Parallel()
	pool := runtimePool(t)
	db := &failingDB{DB: pool}
	ttl := 2 * time.Second
	a := newLease(db, "a", ttl)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	jobEnded := make(chan time.Time, 10)
	var running atomic.Int32
	go a.Run(ctx, func(jctx context.Context) {
		running.Add(1)
		<-jctx.Done()
		running.Add(-1)
		jobEnded <- time.Now()
	})
	waitFor(t, ttl, "a holds", func() bool { return a.Held() && running.Load() == 1 })
	// Renewal works for a while: a keeps holding past one TTL.
	time.Sleep(ttl + ttl/2) // the duration under test, not synchronisation
	if !a.Held() || running.Load() != 1 {
		t.Fatal("a stopped holding although its renewals succeed")
	}
	db.failing.Store(true)
	var ended time.Time
	select {
	case ended = <-jobEnded:
	case <-time.After(2 * ttl):
		t.Fatal("the job kept running after renewals failed for two TTLs")
	}
	if a.Held() {
		t.Fatal("a considers itself holding after its renewals failed")
	}
	// It stopped before the database let anyone else take the lease.
	var stillValid bool
	if err := pool.QueryRow(context.Background(), `SELECT expires_at > now() FROM ledger_leases WHERE role = $1`, lease.Relay).Scan(&stillValid); err != nil {
		t.Fatal(err)
	}
	if !stillValid {
		t.Fatalf("the job ended (%s) only after the lease expired in the database", ended.Format(time.StampMilli))
	}
	b := newLease(pool, "b", ttl)
	waitFor(t, 2*ttl, "b acquires the lease a could not renew", func() bool {
		ok, err := b.TryAcquire(context.Background())
		return err == nil && ok
	})
	if a.Held() || running.Load() != 0 {
		t.Fatal("a acts while b holds")
	}
}

func TestHolderIDsDiffer(t *testing.T) {
	t.Parallel()
	if a, b := lease.NewHolderID(), lease.NewHolderID(); a == b || a == "" {
		t.Fatalf("holder ids %q and %q", a, b)
	}
}

// A renewed lease names its holder; a lease left behind by a server that stopped is
// waited out; none at all answers at once.
func TestAwaitNoHolderWaitsOutLeftoversOnly(t *testing.T) {
	t.Parallel()
	pool := runtimePool(t)
	ctx := context.Background()
	if h, err := lease.AwaitNoHolder(ctx, pool, time.Second); err != nil || h != "" {
		t.Fatalf("no lease yet: %q, %v", h, err)
	}
	l := newLease(pool, "host:1:ab", time.Minute)
	if ok, err := l.TryAcquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if h, err := lease.AwaitNoHolder(ctx, pool, time.Second); err != nil || h != "host:1:ab" {
		t.Fatalf("held: %q, %v", h, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := lease.AwaitNoHolder(ctx, pool, time.Second); err != nil || h != "" {
		t.Fatalf("released: %q, %v", h, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_leases (role, holder, expires_at) VALUES ('relay', 'stopped:2:cd', now() + interval '300 milliseconds')`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if h, err := lease.AwaitNoHolder(ctx, pool, 5*time.Second); err != nil || h != "" {
		t.Fatalf("a leftover lease: %q, %v", h, err)
	}
	if n := countLive(t, pool); n != 0 {
		t.Fatalf("returned after %s with %d live leases", time.Since(start), n)
	}
}

func countLive(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_leases WHERE expires_at > now()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
