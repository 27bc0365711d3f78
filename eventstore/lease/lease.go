package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The roles elected among the ledger processes.
// WARNING: persisted in ledger_leases and shared by every process on a database; never rename.
const (
	Relay            = "relay"
	Sealer           = "sealer"
	CheckpointSigner = "checkpoint-signer"
	Backups          = "backups"
	IdempotencySweep = "idempotency-sweep"
	VaultHealth      = "vault-health"
)

// DefaultTTL is how long a lease lasts without renewal: a process that dies holding a role
// hands it over within about this long.
const DefaultTTL = 10 * time.Second

// DB is what a lease needs of the database: a pool (or a pooler's connection string behind
// one) is enough, since every statement stands alone.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Lease is one process's claim on one role. Its methods are safe for concurrent use;
// Run is meant to be called once.
type Lease struct {
	DB     DB
	Role   string
	Holder string
	// TTL is how long a renewal keeps the lease (DefaultTTL when zero). The holder renews
	// every TTL/3 and stops acting TTL/5 before the expiry it could have caused.
	TTL time.Duration
	Log *slog.Logger

	mu         sync.Mutex
	validUntil time.Time // on the monotonic clock; zero when not held
}

// NewHolderID names this process in ledger_leases: host, pid and a random suffix, so a
// restarted process with a reused pid is still someone else.
func NewHolderID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails on supported platforms
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

func (l *Lease) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return DefaultTTL
}

// margin is how long before the database's expiry the holder stops acting: room for a
// clock that runs a little fast or slow, and for a job to notice its context ended.
func (l *Lease) margin() time.Duration { return l.ttl() / 5 }

// acquireSQL takes the lease when it is free or expired, or renews it when it is ours.
// No row back means another process holds it.
const acquireSQL = `INSERT INTO ledger_leases AS l (role, holder, acquired_at, expires_at)
	VALUES ($1, $2, now(), now() + $3 * interval '1 millisecond')
	ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
		acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END
	WHERE l.expires_at <= now() OR l.holder = excluded.holder
	RETURNING true`

// TryAcquire takes or renews the lease with one statement and reports whether this
// process now holds it. An error leaves the previous deadline in place: a holder keeps
// acting until that deadline, not past it.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	sent := time.Now()
	var ok bool
	err := l.DB.QueryRow(ctx, acquireSQL, l.Role, l.Holder, l.ttl().Milliseconds()).Scan(&ok)
	if err == pgx.ErrNoRows {
		l.setValidUntil(time.Time{})
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease: acquire %s: %w", l.Role, err)
	}
	// The database's expiry is at least sent+TTL in real time (the statement ran after it
	// was sent), so stopping at sent+TTL-margin stops before anyone else may start.
	l.setValidUntil(sent.Add(l.ttl() - l.margin()))
	return true, nil
}

func (l *Lease) setValidUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.validUntil = t
}

func (l *Lease) deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}

// Held reports whether this process may act as the role's holder now.
func (l *Lease) Held() bool {
	d := l.deadline()
	return !d.IsZero() && time.Now().Before(d)
}

// Release gives the lease up at once, so another process need not wait for it to expire.
// It stops this process acting as holder first.
func (l *Lease) Release(ctx context.Context) error {
	l.setValidUntil(time.Time{})
	if _, err := l.DB.Exec(ctx, `DELETE FROM ledger_leases WHERE role = $1 AND holder = $2`, l.Role, l.Holder); err != nil {
		return fmt.Errorf("lease: release %s: %w", l.Role, err)
	}
	return nil
}

// releaseTimeout bounds the release on shutdown; a release that does not happen only
// makes the next holder wait for the expiry.
const releaseTimeout = 3 * time.Second

// Run competes for the lease until ctx ends. While this process holds it, job runs with
// a context that ends as soon as the lease may be lost (or ctx ends); a job that returns
// while the lease is still held is started again after a pause. When ctx ends, Run waits
// for the job and releases the lease.
func (l *Lease) Run(ctx context.Context, job func(context.Context)) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := l.Release(rctx); err != nil {
			l.Log.Warn("releasing a lease; another process takes it over once it expires", "role", l.Role, "err", err)
		}
	}()
	every := l.ttl() / 3
	for ctx.Err() == nil {
		ok, err := l.tryWithin(ctx, every)
		if err != nil && ctx.Err() == nil {
			l.Log.Warn("trying a lease", "role", l.Role, "err", err)
		}
		if ok {
			l.Log.Info("this process now holds a role", "role", l.Role)
			l.hold(ctx, job, every)
			if ctx.Err() == nil {
				l.Log.Warn("this process lost a role", "role", l.Role)
			}
			continue // try again at once: the lease may still be ours
		}
		sleep(ctx, every)
	}
}

// tryWithin is TryAcquire bounded by d, so a hanging database cannot hold a renewal past
// the point where the holder stops acting anyway.
func (l *Lease) tryWithin(ctx context.Context, d time.Duration) (bool, error) {
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return l.TryAcquire(tctx)
}

// hold runs job while the lease is held, renewing it every interval, and returns once
// the job has stopped after the lease was lost or ctx ended.
func (l *Lease) hold(ctx context.Context, job func(context.Context), every time.Duration) {
	jctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for jctx.Err() == nil {
			job(jctx)
			sleep(jctx, every)
		}
	}()
	defer func() { stop(); <-done }()
	renew := time.NewTicker(every)
	defer renew.Stop()
	for {
		expiry := time.NewTimer(time.Until(l.deadline()))
		select {
		case <-ctx.Done():
			expiry.Stop()
			return
		case <-expiry.C:
			return // no renewal in time: stop acting now
		case <-renew.C:
			expiry.Stop()
			ok, err := l.tryWithin(ctx, every)
			if err != nil && ctx.Err() == nil {
				l.Log.Warn("renewing a lease", "role", l.Role, "err", err)
			}
			if !ok && err == nil {
				return // someone else holds it
			}
		}
		if !l.Held() {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
