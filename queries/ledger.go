package queries

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

// The bounds of the chain verification that LedgerStatus reports.
const (
	// DefaultVerifyCacheFor is how long one process reuses a verification: a status
	// page polled by several operators walks the chain at most this often.
	DefaultVerifyCacheFor = 30 * time.Second
	// DefaultVerifyMax is the most events one verification walks (the newest ones).
	DefaultVerifyMax = 100_000
)

// relayCursorName is the NATS relay's row in relay_cursors.
// WARNING: persisted; the relay (natsbus) writes it under this name.
const relayCursorName = "nats"

// LedgerState is the state of the log for operators: nothing in it is of one company,
// and nothing holds an event's content.
type LedgerState struct {
	// Head is the newest event (Position 0 when the log is empty).
	Head eventstore.Head
	// Checkpoint is the newest signed checkpoint; nil when none is stored yet.
	Checkpoint *LedgerCheckpoint
	// Verification is the newest verification of the chain's tail, at most
	// VerifyCacheFor old.
	Verification ChainVerification
	// Relay is how far the NATS relay has published the log; nil when it never has.
	Relay *RelayState
}

// LedgerCheckpoint is a stored checkpoint and whether its signature verifies.
type LedgerCheckpoint struct {
	eventstore.StoredCheckpoint
	// SignatureValid reports whether the signature verifies under the public key stored
	// beside it (which whoever can write the table could replace: compare PublicKey with
	// the key kept apart from the database).
	SignatureValid bool
}

// ChainVerification is the outcome of verifying the positions From..To of the chain.
type ChainVerification struct {
	OK bool
	// From and To are the range walked: from the newest checkpoint (or the first event)
	// to the head as it was then, cut to the newest VerifyMax events. From is 0 when the
	// log was empty.
	From, To int64
	// Checked is the number of events read.
	Checked int64
	// BrokenAt is the first position found bad (0 when OK); Reason says why, in words
	// that hold no event content.
	BrokenAt int64
	Reason   string
	// CheckedAt is when the verification ran.
	CheckedAt time.Time
}

// RelayState is the relay's cursor against the head, read from the database, so that
// it is right whichever process relays.
type RelayState struct {
	// Cursor is the last position published; UpdatedAt when it last moved.
	Cursor    int64
	UpdatedAt time.Time
	// Head is the log's head read in the same statement.
	Head int64
	// LagEvents is Head - Cursor; below 0 when the cursor is ahead of the head (events
	// were removed from the log after they were published).
	LagEvents int64
	// LagSeconds is the age of the oldest event not yet published (0 when caught up).
	LagSeconds float64
}

// Ledger reads the state of the log. Its verification is shared by the process's
// requests: use one Ledger per process.
type Ledger struct {
	Store *eventstore.Store
	DB    *pgxpool.Pool
	// VerifyCacheFor (0: DefaultVerifyCacheFor) and VerifyMax (0: DefaultVerifyMax)
	// bound the cost of the verification.
	VerifyCacheFor time.Duration
	VerifyMax      int64

	mu       sync.Mutex // held while verifying, so that concurrent requests verify once
	verified ChainVerification
	at       time.Time // when verified was made (monotonic)
}

// State returns the head, the newest checkpoint, the verification of the chain's tail
// (made now when the last one is older than VerifyCacheFor) and the relay's lag.
func (q *Ledger) State(ctx context.Context) (LedgerState, error) {
	var st LedgerState
	var err error
	if st.Head, err = q.Store.Head(ctx); err != nil {
		return st, err
	}
	cp, found, err := q.Store.NewestCheckpoint(ctx)
	if err != nil {
		return st, err
	}
	if found {
		st.Checkpoint = &LedgerCheckpoint{StoredCheckpoint: cp, SignatureValid: signatureValid(cp)}
	}
	if st.Verification, err = q.verification(ctx); err != nil {
		return st, err
	}
	relay, found, err := q.relay(ctx)
	if found {
		st.Relay = &relay
	}
	return st, err
}

func signatureValid(c eventstore.StoredCheckpoint) bool {
	pub, err := checkpoint.ParsePublicKey(c.PublicKey)
	return err == nil && c.Valid(pub)
}

// verification returns the cached verification, or makes a new one when it is stale.
func (q *Ledger) verification(ctx context.Context) (ChainVerification, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cacheFor := q.VerifyCacheFor
	if cacheFor <= 0 {
		cacheFor = DefaultVerifyCacheFor
	}
	if !q.at.IsZero() && time.Since(q.at) < cacheFor {
		return q.verified, nil
	}
	v, err := q.verify(ctx)
	if err != nil {
		return v, err
	}
	q.verified, q.at = v, time.Now()
	return v, nil
}

// verify walks the chain from the newest checkpoint (or the first event) to the head,
// at most VerifyMax events, and compares the event at the checkpoint's position with
// the checkpoint, which anchors the walk: a tail rewritten and re-hashed from before the
// checkpoint disagrees with it, and a log cut short ends before it.
func (q *Ledger) verify(ctx context.Context) (ChainVerification, error) {
	v := ChainVerification{CheckedAt: time.Now().UTC()}
	// The checkpoint first: one signed after the head was read would lie beyond it.
	cp, found, err := q.Store.NewestCheckpoint(ctx)
	if err != nil {
		return v, err
	}
	head, err := q.Store.HeadPosition(ctx)
	if err != nil {
		return v, err
	}
	limit := q.VerifyMax
	if limit <= 0 {
		limit = DefaultVerifyMax
	}
	v.From, v.To = 1, head
	if found && cp.Position <= head {
		v.From = cp.Position
	}
	v.From = max(v.From, head-limit+1)
	if head == 0 {
		v.From = 0
	}
	rep, err := q.Store.VerifyRange(ctx, v.From, v.To, []int64{cp.Position})
	if err != nil {
		return v, err
	}
	v.Checked, v.OK, v.BrokenAt, v.Reason = rep.Checked, rep.OK(), rep.BrokenAt, rep.Reason
	if v.OK && rep.HeadPosition != head {
		v.OK, v.BrokenAt = false, rep.HeadPosition+1
		v.Reason = fmt.Sprintf("missing: the log's head was %d but the events after %d are not in it", head, rep.HeadPosition)
	}
	// The checkpoint anchors the walk when it lies in it or beyond the head; an older one
	// (more than VerifyMax events back) is not compared.
	if !found || cp.Position < v.From {
		return v, nil
	}
	pub, _ := checkpoint.ParsePublicKey(cp.PublicKey) // a bad key makes the signature invalid, reported with the checkpoint
	chain := checkpoint.Chain{HeadPosition: rep.HeadPosition, BrokenAt: rep.BrokenAt, Observed: map[int64]checkpoint.Point{}}
	for p, c := range rep.Observed {
		chain.Observed[p] = checkpoint.Point{Hash: c.Hash, RecordedAt: c.RecordedAt}
	}
	for _, f := range checkpoint.Audit(chain, []checkpoint.Checkpoint{cp.Checkpoint}, pub).Findings {
		if f.Kind == checkpoint.SignatureInvalid || (!v.OK && v.BrokenAt <= f.Position) {
			continue
		}
		v.OK, v.BrokenAt, v.Reason = false, f.Position, string(f.Kind)+": "+f.Detail
	}
	return v, nil
}

// relay reads the relay's cursor, the head and the age of the first unpublished event in
// one statement; found is false when no relay has published yet.
func (q *Ledger) relay(ctx context.Context) (r RelayState, found bool, err error) {
	err = q.DB.QueryRow(ctx, `
		SELECT c.position, c.updated_at, h.head,
			coalesce(extract(epoch FROM now() - (SELECT e.recorded_at FROM ledger_events e WHERE e.position = c.position + 1)), 0)::float8
		FROM relay_cursors c, (SELECT coalesce(max(position), 0) AS head FROM ledger_events) h
		WHERE c.name = $1`, relayCursorName).Scan(&r.Cursor, &r.UpdatedAt, &r.Head, &r.LagSeconds)
	if errors.Is(err, pgx.ErrNoRows) {
		return RelayState{}, false, nil
	}
	if err != nil {
		return RelayState{}, false, unavailable(err)
	}
	r.LagEvents = r.Head - r.Cursor
	r.LagSeconds = max(r.LagSeconds, 0)
	return r, true, nil
}
