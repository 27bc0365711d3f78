package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgfault"
)

// Log answers audit queries over the event log.
type Log struct {
	DB *pgxpool.Pool
	// MaxStateEntries bounds a State answer; 0 is DefaultMaxStateEntries.
	MaxStateEntries int
	// StatePage is the number of events State reads at a time; 0 is its default.
	StatePage int
	// RedactionKey (the checkpoint key) signs the attestations of the events an export
	// leaves credential hashes out of; without it they are exported unattested, and
	// verify --export reports them.
	RedactionKey ed25519.PrivateKey
}

// Window bounds a query in time: From ≤ t ≤ To. A zero bound is open.
type Window struct {
	From, To time.Time
}

// Validate refuses a window that ends before it starts.
func (w Window) Validate() error {
	if !w.From.IsZero() && !w.To.IsZero() && w.To.Before(w.From) {
		return ledgererr.New(ledgererr.BadRequest, "to must not be before from")
	}
	return nil
}

// overlaps reports whether [start, end) meets the window; a nil end is open.
func (w Window) overlaps(start time.Time, end *time.Time) bool {
	if !w.To.IsZero() && start.After(w.To) {
		return false
	}
	return end == nil || w.From.IsZero() || end.After(w.From)
}

// clip narrows [start, end) to the window.
func (w Window) clip(start time.Time, end *time.Time) (time.Time, *time.Time) {
	if !w.From.IsZero() && start.Before(w.From) {
		start = w.From
	}
	if !w.To.IsZero() && (end == nil || end.After(w.To)) {
		to := w.To
		end = &to
	}
	return start, end
}

// sqlBounds are the window's bounds for SQL: nil for an open bound (the queries
// coalesce it to ±infinity).
func (w Window) sqlBounds() (from, to *time.Time) {
	if !w.From.IsZero() {
		from = &w.From
	}
	if !w.To.IsZero() {
		to = &w.To
	}
	return from, to
}

// windowSQL is the recorded_at condition for the bounds $n and $n+1.
func windowSQL(n int) string {
	return fmt.Sprintf(" recorded_at >= coalesce($%d::timestamptz, '-infinity') AND recorded_at <= coalesce($%d::timestamptz, 'infinity') ", n, n+1)
}

// VersionSpan is one version of a secret and when it was current (or, in a binding,
// when the binding resolved to it): From ≤ t < To, To nil while it still is.
type VersionSpan struct {
	Version  int
	From     time.Time
	To       *time.Time
	Position int64 // of the event that made it current
}

// StatusChange is a secret's status from an event on.
type StatusChange struct {
	Status   string
	At       time.Time
	Position int64
	Actor    string
}

// BindingSpan is one binding of a secret to a consumer, from its creation to its
// removal (RemovedAt nil: still bound at the answer's position).
type BindingSpan struct {
	BindingID       string
	SecretID        string
	TargetType      string
	TargetID        string
	ConfigPath      string
	VersionSelector string
	CreatedAt       time.Time
	CreatedPosition int64
	CreatedBy       string
	RemovedAt       *time.Time
	RemovedPosition int64
	RemovedBy       string
	// Versions are the versions the selector meant during the binding, within the
	// window: "latest" moves with every rotation, a pinned number does not.
	Versions []VersionSpan
}

// Reads summarises successful resolutions.
type Reads struct {
	Count       int64
	First, Last *time.Time
	Versions    []int
	// RunIDs are the distinct run ids, at most MaxRunIDs of them; RunIDsTruncated says
	// there were more.
	RunIDs          []string
	RunIDsTruncated bool
}

// MaxRunIDs bounds the run ids listed per consumer and secret.
const MaxRunIDs = 100

// Failures summarises failed resolution attempts with one outcome.
type Failures struct {
	Outcome     string
	Count       int64
	First, Last time.Time
	// ConfigPaths are the paths asked for (for attempts with no binding).
	ConfigPaths []string
}

// AgentKey is an agent key that can act as a consumer, with its life.
type AgentKey struct {
	KeyID      string
	TargetType string
	TargetID   string
	Label      string
	IssuedAt   time.Time
	IssuedBy   string
	RevokedAt  *time.Time
	RevokedBy  string
	// ActiveInWindow says the key was valid at some moment of the window.
	ActiveInWindow bool
}

// head returns the log's last position: the cut every part of an answer reads.
func (l Log) head(ctx context.Context) (int64, error) {
	var h int64
	err := l.DB.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM ledger_events`).Scan(&h)
	return h, dbError(err)
}

func actorOf(m eventstore.Metadata) string {
	if m.ActorType == "" {
		return ""
	}
	return m.ActorType + ":" + m.ActorID
}

var errNotFound = ledgererr.New(ledgererr.NotFound, "not found")

func requireBoard(a actor.Actor, company string) error {
	if a.Type != actor.Board || !a.CanAccess(company) {
		return errNotFound
	}
	return nil
}

// dbError translates driver errors at the edge, like the other queries.
func dbError(err error) error {
	if err == nil {
		return nil
	}
	var le *ledgererr.Error
	if errors.As(err, &le) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("audit: %w", err)
	}
	if pgfault.Unavailable(err) {
		return ledgererr.Wrap(err, ledgererr.Unavailable, "event store unavailable")
	}
	return ledgererr.Wrap(err, ledgererr.Internal, "audit query failed")
}

// readEvents runs a query that selects the event columns in eventstore's order.
func (l Log) readEvents(ctx context.Context, sql string, args ...any) ([]eventstore.Event, error) {
	rows, err := l.DB.Query(ctx, `SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
		company_id, payload, metadata, recorded_at, prev_hash, hash FROM ledger_events `+sql, args...)
	if err != nil {
		return nil, dbError(err)
	}
	evs, err := pgx.CollectRows(rows, eventstore.ScanEvent)
	return evs, dbError(err)
}
