package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/lease"
)

// relayName is the relay's row in relay_cursors.
// WARNING: persisted.
const relayName = "nats"

const (
	relayPage     = 500
	relayPoll     = 250 * time.Millisecond // fallback when no wake-up arrives
	publishWait   = 5 * time.Second
	reconnectWait = 500 * time.Millisecond
)

// Relay publishes every committed event to JetStream in log order, from its own cursor.
// Only the process holding the relay lease publishes; the others stand by and take over
// once it is released or expires. A publish that fails is retried from the cursor:
// JetStream drops the repeats by event id, so subscribers see no gap and no duplicate.
type Relay struct {
	Pool *pgxpool.Pool
	// Events reads the log it publishes; required. It ends a page before an event the
	// ledger's writer did not authenticate, so a row inserted by a database writer is
	// never published (the relay stops there, as the checkpoint signer does).
	Events EventReader
	// Lease elects the relay (role lease.Relay); required. It publishes only while
	// Lease.Held, and advances the cursor only while the database still has it as holder.
	Lease *lease.Lease
	// NATS is where, and as whom, it publishes.
	NATS Endpoint
	// Replicas is the LEDGER stream's replication factor when the relay creates it.
	Replicas int
	Wake     <-chan struct{}
	Log      *slog.Logger

	// paused, when set, runs between the lease check and the first publish of a page:
	// where tests pause a relay, as a stopped process or a long GC pause would.
	paused func()

	mu       sync.Mutex
	status   RelayStatus
	nc       *nats.Conn
	streamOK bool // the LEDGER stream is known to exist (only the relay goroutine uses it)
	tail     streamTail
}

// EventReader is what the relay reads the log with (an *eventstore.Store).
type EventReader interface {
	ReadAuthentic(ctx context.Context, after int64, limit int) ([]eventstore.Event, error)
}

// streamTail is the stream's last message as this relay last stored it: the position of
// its event and its stream sequence. Only the relay goroutine uses it; it is forgotten
// whenever another writer may have published since (a new term as leader, any error).
type streamTail struct {
	known    bool
	position int64
	seq      uint64
}

// RelayStatus is what /readyz and doctor report.
type RelayStatus struct {
	Leader    bool
	Connected bool
	Cursor    int64
	Head      int64
	// LagSeconds is the age of the oldest event not yet published (0 when caught up).
	LagSeconds float64
	LastError  string
}

// Status returns the relay's current state.
func (r *Relay) Status() RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Connected = r.nc != nil && r.nc.IsConnected()
	return st
}

func (r *Relay) update(f func(*RelayStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.status)
}

// Run relays whenever this process holds the relay lease, until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	if r.Events == nil || r.Lease == nil {
		return errors.New("natsbus: a relay needs Events and Lease")
	}
	nc, err := r.NATS.Connect("secretsledger relay", nats.RetryOnFailedConnect(true),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if ctx.Err() == nil {
				r.Log.Error("the relay's NATS connection closed", "err", nc.LastError())
			}
		}))
	if err != nil {
		return err
	}
	defer nc.Close()
	r.mu.Lock()
	r.nc = nc
	r.mu.Unlock()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsbus: jetstream: %w", err)
	}
	r.Lease.Run(ctx, func(ctx context.Context) { r.lead(ctx, js) })
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// lead publishes while this process holds the relay lease: ctx ends when the lease may be
// lost. A database error returns (the lease's Run starts it again while the lease holds).
func (r *Relay) lead(ctx context.Context, js jetstream.JetStream) {
	r.Log.Info("this process now relays the event log to NATS")
	r.tail = streamTail{} // another leader may have published meanwhile
	r.update(func(s *RelayStatus) { s.Leader = true })
	defer r.update(func(s *RelayStatus) { s.Leader = false })
	for ctx.Err() == nil && r.Lease.Held() {
		published, err := r.publishPage(ctx, js)
		if err != nil {
			r.tail = streamTail{}
		}
		if errors.Is(err, errInterleaved) {
			continue // the cursor is at the last event stored in order: go on from there
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.update(func(s *RelayStatus) { s.LastError = err.Error() })
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
				r.streamOK = false // NATS may have lost the stream: check again before the retry
			}
			if errors.Is(err, errDatabase) {
				r.Log.Warn("relay interrupted; retrying", "err", err)
				return
			}
			r.Log.Warn("relay publish failed; retrying from the cursor", "err", err)
			sleep(ctx, reconnectWait)
			continue
		}
		if published == relayPage {
			continue // more to do at once
		}
		select {
		case <-ctx.Done():
		case <-r.Wake:
		case <-time.After(relayPoll):
		}
	}
}

var errDatabase = errors.New("natsbus: database")

// errNotHolder stops a relay whose lease ran out; it counts as a database error, so the
// relay stops leading at once.
var errNotHolder = fmt.Errorf("%w: the relay lease is no longer held", errDatabase)

// publishPage publishes the next page of events after the cursor and advances it.
func (r *Relay) publishPage(ctx context.Context, js jetstream.JetStream) (int, error) {
	var cursor, head int64
	if err := r.Pool.QueryRow(ctx, `SELECT coalesce((SELECT position FROM relay_cursors WHERE name = $1), 0),
		coalesce((SELECT max(position) FROM ledger_events), 0)`, relayName).Scan(&cursor, &head); err != nil {
		return 0, fmt.Errorf("%w: read cursor: %v", errDatabase, err)
	}
	evs, err := r.Events.ReadAuthentic(ctx, cursor, relayPage)
	if err != nil {
		return 0, fmt.Errorf("%w: read log: %v", errDatabase, err)
	}
	lag := 0.0
	if len(evs) > 0 {
		lag = time.Since(evs[0].RecordedAt).Seconds()
	}
	r.update(func(s *RelayStatus) { s.Cursor, s.Head, s.LagSeconds = cursor, head, lag })
	if len(evs) == 0 {
		return 0, nil
	}
	if !r.Lease.Held() {
		return 0, errNotHolder // checked last thing before publishing
	}
	if r.paused != nil {
		r.paused()
	}
	if !r.streamOK {
		if err := ensureStream(ctx, js, r.Replicas); err != nil {
			return 0, err
		}
		r.streamOK = true
	}
	pctx, cancel := context.WithTimeout(ctx, publishWait)
	defer cancel()
	expected, err := r.expectedLast(pctx, js, cursor)
	if err != nil {
		return 0, err
	}
	stored, tail, err := publishInOrder(pctx, js, evs, expected)
	if stored > 0 {
		if err := r.advance(ctx, evs[stored-1].Position); err != nil {
			return 0, err
		}
		r.tail = tail
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("natsbus: publish: no acknowledgement within %s", publishWait)
	}
	return stored, err
}

// errInterleaved is an event refused because its predecessor is not the stream's last
// message: the predecessor's publish was lost (a failover), or another writer's message
// came in between. The cursor is then at the last event stored in order, and the relay
// goes on from there at once.
var errInterleaved = errors.New("natsbus: an event's predecessor is not the stream's last message; publishing again from the cursor")

// expectedLast is the stream sequence the page after cursor must follow: that of the
// cursor's event. The relay knows it from its own last page; otherwise (a new term as
// leader, after an error) it reads the stream's last message. When that message is an
// event past the cursor, a previous leader published it and lost its lease before
// moving the cursor (the stream holds events in log order, each conditioned on its
// predecessor): the cursor moves up to it, fenced by the lease, and the page is read
// again.
func (r *Relay) expectedLast(ctx context.Context, js jetstream.JetStream, cursor int64) (uint64, error) {
	if r.tail.known && r.tail.position == cursor {
		return r.tail.seq, nil
	}
	stream, err := js.Stream(ctx, StreamName)
	if err != nil {
		return 0, fmt.Errorf("natsbus: stream %s: %w", StreamName, err)
	}
	last := stream.CachedInfo().State.LastSeq
	if last == 0 {
		return 0, nil
	}
	m, err := stream.GetMsg(ctx, last)
	if err != nil {
		return 0, fmt.Errorf("natsbus: read the stream's last message: %w", err)
	}
	var env struct {
		Position int64 `json:"position"`
	}
	if err := json.Unmarshal(m.Data, &env); err != nil {
		return 0, fmt.Errorf("natsbus: the stream's last message is not an event: %w", err)
	}
	if env.Position > cursor {
		if err := r.advance(ctx, env.Position); err != nil {
			return 0, err
		}
		return 0, errInterleaved
	}
	return last, nil
}

// publishInOrder publishes evs, the first after the stream's sequence expected, and
// returns how many of them, from the first, are acknowledged as stored (or as already
// stored), in log order, and the stream's tail after the last of them.
//
// Every publish carries the condition that the stream's last sequence is its
// predecessor's, so when a publish is lost (a stream leader lost mid-page) the ones after
// it are refused rather than stored ahead of it, and a relay that lost its lease while
// paused cannot store a stale event at the stream's end once the duplicate window is
// over: another leader's publishes have moved the sequence. JetStream checks that
// condition before replicating a message; the condition on the last message id, which
// it checks only while applying a replicated message, takes a replicated stream down
// when it fails.
func publishInOrder(ctx context.Context, js jetstream.JetStream, evs []eventstore.Event, expected uint64) (int, streamTail, error) {
	var err error
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	for i, e := range evs {
		data, merr := json.Marshal(EnvelopeOf(e))
		if merr != nil {
			return 0, streamTail{}, merr
		}
		f, sendErr := js.PublishMsgAsync(&nats.Msg{Subject: Subject(e), Data: data}, jetstream.WithMsgID(e.EventID.String()),
			jetstream.WithExpectLastSequence(expected+uint64(i)))
		if sendErr != nil {
			err = fmt.Errorf("natsbus: publish: %w", sendErr)
			break // the ones sent so far are still counted below
		}
		futures = append(futures, f)
	}
	stored, tail := 0, streamTail{known: true}
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			// A duplicate's sequence is the first copy's: the tail is not known then.
			tail = streamTail{known: tail.known && !ack.Duplicate, position: evs[stored].Position, seq: ack.Sequence}
			stored++
			continue
		case err = <-f.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
				err = errInterleaved
			} else {
				err = fmt.Errorf("natsbus: publish: %w", err)
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	return stored, tail, err // err: why the rest was not stored (a failed send, a refusal, the deadline)
}

// advance moves the cursor to position. It is fenced by the lease: a relay that lost it
// (paused past its expiry, say) cannot move the cursor of the relay that took over.
func (r *Relay) advance(ctx context.Context, position int64) error {
	tag, err := r.Pool.Exec(ctx, `INSERT INTO relay_cursors (name, position)
		SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM ledger_leases WHERE role = $3 AND holder = $4 AND expires_at > now())
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()`, relayName, position, r.Lease.Role, r.Lease.Holder)
	if err != nil {
		return fmt.Errorf("%w: advance cursor: %v", errDatabase, err)
	}
	if tag.RowsAffected() == 0 {
		return errNotHolder
	}
	r.update(func(s *RelayStatus) { s.Cursor, s.LastError = position, "" })
	return nil
}
