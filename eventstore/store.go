package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgfault"
)

// Config tunes the event store.
type Config struct {
	// MaxBatchEvents bounds the events the sealer moves into the chain in one
	// transaction. Default 1000.
	MaxBatchEvents int
	// Projector, when set, applies every append's events to read models inside the
	// append transaction (inline projection: read-your-writes, and read-model
	// constraints such as unique names settle races). An error fails the append.
	Projector Projector
	// Committed are signalled (never blocking) after every sealed batch, so that the
	// relay and the checkpoint signer wake at once instead of polling. Each consumer
	// has its own channel: a signal taken by one is not lost to another.
	Committed []chan<- struct{}
	// IdempotencyTTL is how long an idempotency key is remembered; after it, the key
	// is free again. Default DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// Observer, when set, hears of every committed append, refused append and sealed
	// batch (metrics).
	Observer Observer
	// Recorded, when set, receives every committed append's events before its
	// appender is answered: state kept in memory from the log is current with an append
	// by the time its caller learns it committed. Appends commit in parallel, so calls
	// may come in any order and at once; it must be quick and safe for that.
	Recorded func([]Event)
	// Sealed, when set, receives the events of every batch this process's sealer
	// chained, in position order.
	Sealed func([]Event)
	// Authenticator MACs every appended event (ledger_appends.mac, then
	// ledger_events.mac) and checks the MACs on sealing and verification. Without it
	// the store reads and verifies the chain but refuses to append.
	Authenticator Authenticator
	// MaxUnsealed and MaxUnsealedAge bound the sealer's backlog: while more events wait
	// to be sealed, or the oldest has waited longer, appends are refused (EUNAVAILABLE).
	// Defaults DefaultMaxUnsealed and DefaultMaxUnsealedAge.
	MaxUnsealed    int64
	MaxUnsealedAge time.Duration
}

// DefaultMaxUnsealed and DefaultMaxUnsealedAge are how far the sealer may fall behind
// (an outage of every process that could seal) before appends stop: events waiting to
// be sealed are acknowledged and authenticated, but not yet chained, signed or
// published.
const (
	DefaultMaxUnsealed    = 100_000
	DefaultMaxUnsealedAge = 10 * time.Minute
)

// Authenticator authenticates events by their chain hash under a key kept outside the
// database (integrity.Key), so that a row inserted by someone who holds only database
// credentials is told apart from the writer's.
type Authenticator interface {
	EventMAC(hash []byte) []byte
	VerifyEventMAC(hash, mac []byte) bool
}

// DefaultIdempotencyTTL is the window common APIs give a retry: a day.
const DefaultIdempotencyTTL = 24 * time.Hour

func (c Config) withDefaults() Config {
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 1000
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if c.MaxUnsealed <= 0 {
		c.MaxUnsealed = DefaultMaxUnsealed
	}
	if c.MaxUnsealedAge <= 0 {
		c.MaxUnsealedAge = DefaultMaxUnsealedAge
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

// DB is what a Projector may run inside the append transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Projector applies recorded events to read models inside the append transaction.
type Projector interface {
	// Queue adds the statements that apply events to b. They run after the events'
	// INSERT and before COMMIT, in the same round trip.
	Queue(b *pgx.Batch, events []Event) error
	// Translate turns an error of those statements (a read model's unique constraint,
	// say) into the error the appender sees; other errors come back unchanged.
	Translate(err error) error
}

// Store is the event log over a PostgreSQL pool. Reads and appends work at once; Run
// seals the appended events into the chain.
type Store struct {
	pool     *pgxpool.Pool
	cfg      Config
	ids      *idSource
	sealWake chan struct{}
	seal     sealState
	recent   recentSealed
	gc       groupCommit
	backlog  backlog
	now      func() time.Time
	// legacy caches ledger_integrity.legacy_through for the decision reads.
	legacy legacyCache
}

// New returns a Store over pool. Start its sealer with Run.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	cfg = cfg.withDefaults()
	s := &Store{
		pool:     pool,
		cfg:      cfg,
		ids:      newIDSource(),
		sealWake: make(chan struct{}, 1),
		now:      time.Now,
	}
	s.legacy.v.Store(-1)
	return s
}

// OnRecorded adds fn to the hooks that receive every committed append's events (see
// Config.Recorded), after those already there. Call it before the first append and
// before Run: the hooks are read without a lock.
func (s *Store) OnRecorded(fn func([]Event)) { s.cfg.Recorded = chainHooks(s.cfg.Recorded, fn) }

// OnSealed adds fn to the hooks that receive every batch this process's sealer chained
// (see Config.Sealed), after those already there. Call it before Run.
func (s *Store) OnSealed(fn func([]Event)) { s.cfg.Sealed = chainHooks(s.cfg.Sealed, fn) }

func chainHooks(prev, fn func([]Event)) func([]Event) {
	if prev == nil {
		return fn
	}
	return func(evs []Event) { prev(evs); fn(evs) }
}

// storeError translates driver errors at the edge: a fault of the database's
// availability (a lost connection, a failover's shutdown or standby) becomes
// Unavailable, anything else Internal. The safe message never carries SQL or values.
func storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	var le *ledgererr.Error
	if errors.As(err, &le) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("eventstore: %s: %w", op, err)
	}
	if pgfault.Unavailable(err) {
		return ledgererr.Wrap(err, ledgererr.Unavailable, "event store unavailable")
	}
	return ledgererr.Wrap(err, ledgererr.Internal, "event store %s failed", op)
}
