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

// Config tunes the group-commit writer.
type Config struct {
	// MaxBatchEvents bounds the events written in one transaction. Default 1000.
	MaxBatchEvents int
	// MaxBatchWait is how long the writer lingers for more appends after the first one
	// of a batch. Default 0: the writer takes what is already queued, so a lone append
	// pays no extra latency while appends that queue up behind a running transaction
	// share the next one.
	MaxBatchWait time.Duration
	// Projector, when set, applies every batch's accepted events to read models inside
	// the append transaction (inline projection: read-your-writes, and read-model
	// constraints such as unique names settle races). An error fails the appends.
	Projector Projector
	// Committed are signalled (never blocking) after every committed batch, so that
	// the relay and the checkpoint signer wake at once instead of polling. Each
	// consumer has its own channel: a signal taken by one is not lost to another.
	Committed []chan<- struct{}
	// IdempotencyTTL is how long an idempotency key is remembered; after it, the key
	// is free again. Default DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// Observer, when set, hears of every committed batch and refused append (metrics).
	Observer Observer
	// Recorded, when set, receives every committed batch's events, in position order,
	// before any of their appenders is answered: state kept in memory from the log is
	// current with an append by the time its caller learns it committed. It runs in
	// the writer and must be quick.
	Recorded func([]Event)
	// Authenticator MACs every appended event (ledger_events.mac) and checks the MACs
	// on verification. Without it the store reads and verifies the chain but refuses
	// to append: an event without a MAC is indistinguishable from a forged one.
	Authenticator Authenticator
}

// Authenticator authenticates events by their chain hash under a key kept outside the
// database (integrity.Key), so that a row inserted by someone who holds only database
// credentials is told apart from the writer's.
type Authenticator interface {
	EventMAC(hash []byte) []byte
	VerifyEventMAC(hash, mac []byte) bool
}

// queueSize bounds the appends waiting for the writer.
const queueSize = 4096

// DefaultIdempotencyTTL is the window common APIs give a retry: a day.
const DefaultIdempotencyTTL = 24 * time.Hour

func (c Config) withDefaults() Config {
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 1000
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
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

// Store is the event log over a PostgreSQL pool. Reads work at once; appends need Run.
type Store struct {
	pool    *pgxpool.Pool
	cfg     Config
	ids     *idSource
	queue   chan *pendingAppend
	stopped chan struct{}
	now     func() time.Time
	// legacy caches ledger_integrity.legacy_through for the decision reads.
	legacy legacyCache
}

// New returns a Store over pool. Start its writer with Run.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	cfg = cfg.withDefaults()
	s := &Store{
		pool:    pool,
		cfg:     cfg,
		ids:     newIDSource(),
		queue:   make(chan *pendingAppend, queueSize),
		stopped: make(chan struct{}),
		now:     time.Now,
	}
	s.legacy.v.Store(-1)
	return s
}

// OnRecorded adds fn to the hooks that receive every committed batch's events (see
// Config.Recorded), after those already there. Call it before Run: the writer reads
// the hooks without a lock.
func (s *Store) OnRecorded(fn func([]Event)) {
	prev := s.cfg.Recorded
	if prev == nil {
		s.cfg.Recorded = fn
		return
	}
	s.cfg.Recorded = func(evs []Event) { prev(evs); fn(evs) }
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
