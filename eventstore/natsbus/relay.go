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
)

// relayLockKey elects the one relay among all ledger processes on a database.
// WARNING: shared by every ledger process; never change it.
const relayLockKey int64 = 0x5345435245545303 // "SECRETS\x03"

// relayName is the relay's row in relay_cursors.
// WARNING: persisted.
const relayName = "nats"

const (
	relayPage     = 500
	relayPoll     = 250 * time.Millisecond // fallback when no wake-up arrives
	leaderRetry   = time.Second            // how often a standby tries to take over
	publishWait   = 5 * time.Second
	reconnectWait = 500 * time.Millisecond
)

// Relay publishes every committed event to JetStream in log order, from its own cursor.
// Only the process holding the relay lock publishes; the others stand by and take over
// within leaderRetry when it dies. A publish that fails is retried from the cursor:
// JetStream drops the repeats by event id, so subscribers see no gap and no duplicate.
type Relay struct {
	Pool *pgxpool.Pool
	// NATS is where, and as whom, it publishes.
	NATS Endpoint
	// Replicas is the LEDGER stream's replication factor when the relay creates it.
	Replicas int
	Wake     <-chan struct{}
	Log      *slog.Logger

	mu       sync.Mutex
	status   RelayStatus
	nc       *nats.Conn
	streamOK bool // the LEDGER stream is known to exist (only the relay goroutine uses it)
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

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	nc, err := r.NATS.Connect("secretsledger relay", nats.RetryOnFailedConnect(true))
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
	for ctx.Err() == nil {
		err := r.lead(ctx, js)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			r.Log.Warn("relay interrupted; retrying", "err", err)
			r.update(func(s *RelayStatus) { s.Leader, s.LastError = false, err.Error() })
		}
		sleep(ctx, leaderRetry)
	}
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

// lead waits to become the relay leader (a session advisory lock on a connection held
// for as long as it leads), then publishes until ctx ends or the connection breaks.
func (r *Relay) lead(ctx context.Context, js jetstream.JetStream) error {
	pooled, err := r.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The session lock dies with this connection, so the connection never goes back to
	// the pool: a lock left on a pooled connection would block every other process.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var leader bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&leader); err != nil {
			return err
		}
		if leader {
			break
		}
		r.update(func(s *RelayStatus) { s.Leader = false })
		sleep(ctx, leaderRetry)
		if ctx.Err() != nil {
			return nil
		}
	}
	r.Log.Info("this process now relays the event log to NATS")
	r.update(func(s *RelayStatus) { s.Leader = true })
	for ctx.Err() == nil {
		published, err := r.publishPage(ctx, js)
		if err != nil {
			r.update(func(s *RelayStatus) { s.LastError = err.Error() })
			if errors.Is(err, jetstream.ErrNoStreamResponse) {
				r.streamOK = false // NATS may have lost the stream: check again before the retry
			}
			if errors.Is(err, errDatabase) {
				return err
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
		// Leadership holds while this connection lives; checking it costs one round trip.
		if err := conn.Ping(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("%w: lost the relay lock connection: %v", errDatabase, err)
		}
	}
	return nil
}

var errDatabase = errors.New("natsbus: database")

// publishPage publishes the next page of events after the cursor and advances it.
func (r *Relay) publishPage(ctx context.Context, js jetstream.JetStream) (int, error) {
	var cursor, head int64
	if err := r.Pool.QueryRow(ctx, `SELECT coalesce((SELECT position FROM relay_cursors WHERE name = $1), 0),
		coalesce((SELECT max(position) FROM ledger_events), 0)`, relayName).Scan(&cursor, &head); err != nil {
		return 0, fmt.Errorf("%w: read cursor: %v", errDatabase, err)
	}
	evs, err := eventstore.ReadAll(ctx, r.Pool, cursor, relayPage)
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
	if !r.streamOK {
		if err := ensureStream(ctx, js, r.Replicas); err != nil {
			return 0, err
		}
		r.streamOK = true
	}
	pctx, cancel := context.WithTimeout(ctx, publishWait)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	for i, e := range evs {
		data, err := json.Marshal(EnvelopeOf(e))
		if err != nil {
			return 0, err
		}
		// Each message but the page's first names its predecessor: when a publish of the
		// page fails (a stream leader lost mid-page), the ones after it are refused
		// rather than stored ahead of it, and the page is published again in order. The
		// first follows the cursor's event, which was acknowledged before the cursor moved.
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(e.EventID.String())}
		if i > 0 {
			opts = append(opts, jetstream.WithExpectLastMsgID(evs[i-1].EventID.String()))
		}
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: Subject(e), Data: data}, opts...)
		if err != nil {
			return 0, fmt.Errorf("natsbus: publish: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return 0, fmt.Errorf("natsbus: publish: %w", err)
		case <-pctx.Done():
			return 0, fmt.Errorf("natsbus: publish: no acknowledgement within %s", publishWait)
		}
	}
	last := evs[len(evs)-1].Position
	if _, err := r.Pool.Exec(ctx, `INSERT INTO relay_cursors (name, position) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()`, relayName, last); err != nil {
		return 0, fmt.Errorf("%w: advance cursor: %v", errDatabase, err)
	}
	r.update(func(s *RelayStatus) { s.Cursor, s.LastError = last, "" })
	return len(evs), nil
}
