package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// The sealer moves acknowledged events from ledger_appends into ledger_events, in
// position order, with their chain hash and the writer's MAC of it. Positions come from
// a sequence, so a smaller one may still be in flight when a larger one commits. The
// sealer therefore reads the sequence's last value N, then takes an xid X of its own (a
// probe, made by the sealing transaction before it, or by a transaction of its own),
// and seals positions up to N only once pg_snapshot_xmin() is past X. An append takes its xid before its positions, so every
// transaction that could hold a position up to N had its xid before X: once all of them
// have ended, every position up to N is committed (and visible) or never will be. Reading
// the head and the pending events in one statement gives them one snapshot; the primary
// key on ledger_events.position turns two sealers racing (a lease handover) into one
// failed insert, never a fork.

// sealPoll is how often an idle sealer looks for events appended by other processes;
// appends in its own process wake it at once.
const sealPoll = 10 * time.Millisecond

// sealedFloor is where the pending events to seal start: above the head as this sealer
// last saw it ($n; ledger_appends is a queue, and its index holds the entries of the
// rows sealed and deleted since the last vacuum below it), unless the log's head is
// lower. That happens when PostgreSQL lost a seal (the sealing transaction commits
// without waiting for its flush): its events are pending again and must be sealed again,
// not skipped.
func sealedFloor(n int) string {
	return fmt.Sprintf(`LEAST($%d, coalesce((SELECT max(position) FROM ledger_events), 0))`, n)
}

// sealCandidates reads the head and up to $1 pending events at positions above the
// sealed floor ($3) and up to $2, with each stream's last sealed version, once the
// transactions older than the probe's xid ($4) have ended. Until then it reads nothing:
// the check is a one-time filter, so a sealer polling for them does not scan the queue
// and the log's head on every poll.
var sealCandidates = `
WITH cand AS (SELECT a.* FROM ledger_appends a WHERE (SELECT pg_snapshot_xmin(pg_current_snapshot()) > $4::xid8)
	AND a.position > ` + sealedFloor(3) + ` AND a.position <= $2 ORDER BY a.position LIMIT $1),
sealed AS (SELECT s.stream_id, (SELECT max(e.stream_version) FROM ledger_events e WHERE e.stream_id = s.stream_id) AS v
	FROM (SELECT DISTINCT stream_id FROM cand) s),
head AS (SELECT position, hash FROM ledger_events ORDER BY position DESC LIMIT 1)
SELECT (SELECT position FROM head), (SELECT hash FROM head), c.position, c.event_id, c.stream_id, c.stream_version,
	c.event_type, c.schema_version, c.company_id, c.payload, c.metadata, c.payload::jsonb::text, c.metadata::jsonb::text,
	c.recorded_at, c.mac, sealed.v
FROM cand c JOIN sealed USING (stream_id) ORDER BY c.position`

// pendingEvent is one row of sealCandidates.
type pendingEvent struct {
	headPos       *int64
	headHash      []byte
	f             chainFields // as sent: the content the writer's MAC covers
	version       *int64
	normPayload   string
	normMeta      string
	mac           []byte
	sealedVersion *int64
}

// SealError is why the sealer stopped before an event: it will not chain an event the
// writer did not authenticate, nor one out of its stream's order.
type SealError struct {
	Position int64
	Reason   string
}

func (e *SealError) Error() string {
	return fmt.Sprintf("eventstore: the sealer stops before position %d: %s", e.Position, e.Reason)
}

// Seal moves the final pending events (at most MaxBatchEvents) into the chain in one
// transaction and returns how many it sealed: those up to its probe's position, once
// the transactions older than the probe have ended (waiting at most finalWait for
// them). A *SealError says it stopped before an event it must not seal; what came
// before it is sealed. Calls are serialized.
func (s *Store) Seal(ctx context.Context) (int, error) {
	if s.cfg.Authenticator == nil {
		return 0, errNoAuthenticator
	}
	s.seal.mu.Lock()
	defer s.seal.mu.Unlock()
	fresh := false
	deadline := time.Now().Add(finalWait)
	for {
		if s.seal.probe == nil {
			p, found, err := s.takeProbe(ctx)
			if err != nil || !found {
				return 0, storeError("seal", err)
			}
			s.seal.probe, fresh = &p, true
		}
		final, pending, err := s.candidates(ctx, *s.seal.probe)
		switch {
		case err != nil:
			return 0, storeError("seal", err)
		case !final:
			if time.Now().After(deadline) {
				return 0, nil
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(finalPoll):
			}
			continue
		case len(pending) == 0: // all up to the probe is sealed: probe anew
			s.seal.probe = nil
			if fresh {
				return 0, nil
			}
			continue
		}
		batch, stop := s.chain(pending)
		if n := len(batch.positions); n > 0 {
			next, err := s.writeSealed(ctx, batch)
			if err != nil {
				return 0, storeError("seal", err)
			}
			s.seal.probe, s.seal.head = &next, batch.positions[n-1]
			s.recent.add(batch.after, batch.events)
			s.afterSeal(batch)
		}
		return len(batch.positions), stop
	}
}

// sealedBatch is what one sealing transaction adds to each pending event, as column
// arrays for unnest, and what the sealer tells the log's followers of it.
type sealedBatch struct {
	after                    int64   // the head the batch is chained to
	events                   []Event // as the sealed log holds them
	positions, versions      []int64
	prevHashes, hashes, macs [][]byte
}

// chain checks the pending events in position order and links each to the one before:
// it stops at the first that is below the head, not authenticated by the writer, or out
// of its stream's order.
func (s *Store) chain(pending []pendingEvent) (sealedBatch, error) {
	headPos, prev := deref(pending[0].headPos), pending[0].headHash
	b := sealedBatch{after: headPos}
	if prev == nil {
		prev = genesisHash
	}
	last := map[string]int64{}
	for _, p := range pending {
		if _, ok := last[p.f.streamID]; !ok {
			last[p.f.streamID] = deref(p.sealedVersion)
		}
		p.f.streamVersion = deref(p.version)
		switch {
		case p.f.position <= headPos:
			return b, &SealError{Position: p.f.position, Reason: fmt.Sprintf("it is at or below the sealed head %d", headPos)}
		case !s.cfg.Authenticator.VerifyEventMAC(pendingHash(p.f), p.mac):
			return b, &SealError{Position: p.f.position, Reason: "the writer did not authenticate it (no valid MAC): it was not written by a ledger process"}
		case p.version != nil && *p.version != last[p.f.streamID]+1:
			return b, &SealError{Position: p.f.position, Reason: fmt.Sprintf("stream %s version %d follows %d: an appended event is missing",
				p.f.streamID, *p.version, last[p.f.streamID])}
		}
		last[p.f.streamID]++
		f := p.f
		f.streamVersion = last[p.f.streamID]
		f.payload, f.metadata = []byte(p.normPayload), []byte(p.normMeta)
		hash := chainHash(prev, f)
		if err := b.add(f, prev, hash, s.cfg.Authenticator.EventMAC(hash)); err != nil {
			return b, &SealError{Position: p.f.position, Reason: err.Error()}
		}
		prev, headPos = hash, f.position
	}
	return b, nil
}

// add adds an event to the batch, as the sealed log will hold it: f with its payload and
// metadata as PostgreSQL normalizes them.
func (b *sealedBatch) add(f chainFields, prev, hash, mac []byte) error {
	e, err := storedEvent{Event: Event{Position: f.position, StreamID: f.streamID, StreamVersion: f.streamVersion,
		Type: f.eventType, SchemaVersion: f.schemaVersion, CompanyID: f.companyID, Payload: f.payload,
		RecordedAt: f.recordedAt, PrevHash: prev, Hash: hash}, id: f.eventID, metadata: f.metadata}.decode()
	if err != nil {
		return err
	}
	b.events = append(b.events, e)
	b.positions = append(b.positions, f.position)
	b.versions = append(b.versions, f.streamVersion)
	b.prevHashes = append(b.prevHashes, prev)
	b.hashes = append(b.hashes, hash)
	b.macs = append(b.macs, mac)
	return nil
}

// sealBatch moves the batch's pending events into ledger_events in one statement: the
// content comes from the rows it deletes, which the sealer read and hashed (a row
// changed in between is stored as changed, so its hash and MAC no longer verify, as for
// any row edited after sealing); the sealer adds the stream version, the chain hash and
// its MAC. It moves every row of the batch or fails: a row already gone was moved by
// another sealer (a lease handover).
const sealBatch = `
WITH moved AS (DELETE FROM ledger_appends WHERE position = ANY($1) RETURNING *)
INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type, schema_version,
	company_id, payload, metadata, recorded_at, prev_hash, hash, mac)
SELECT m.position, m.event_id, m.stream_id, t.ver, m.event_type, m.schema_version, m.company_id,
	m.payload::jsonb, m.metadata::jsonb, m.recorded_at, t.prev, t.hash, t.mac
FROM moved m JOIN unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[]) AS t(pos, ver, prev, hash, mac)
	ON t.pos = m.position`

// writeSealed inserts a batch into ledger_events and removes it from ledger_appends in
// one transaction, in one round trip, and returns the probe that transaction makes for
// the next batch. The transaction does not wait for its flush: sealing is a fold of
// durable pending events in a fixed order, so a seal lost in a crash is redone
// identically, and any later synchronous commit (the next append) flushes it.
func (s *Store) writeSealed(ctx context.Context, b sealedBatch) (probe, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return probe{}, err
	}
	defer conn.Release()
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	queueProbe(batch)
	batch.Queue(sealBatch, b.positions, b.versions, b.prevHashes, b.hashes, b.macs).Exec(func(tag pgconn.CommandTag) error {
		if n := tag.RowsAffected(); n != int64(len(b.positions)) {
			return fmt.Errorf("eventstore: sealed %d of %d pending events: another sealer moved the rest", n, len(b.positions))
		}
		return nil
	})
	batch.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, batch)
	p, err := readProbe(br)
	if err == nil {
		err = br.Close()
	} else {
		_ = br.Close()
	}
	if err != nil {
		rollback(conn)
		return probe{}, err
	}
	return p, nil
}

// afterSeal tells what follows the sealed log (the relay, the checkpoint signer, the
// change feeds) that it moved, and the observer how far behind the appends it is.
func (s *Store) afterSeal(b sealedBatch) {
	now := s.now()
	oldest := b.events[0].RecordedAt
	for _, e := range b.events {
		if e.RecordedAt.Before(oldest) {
			oldest = e.RecordedAt
		}
	}
	s.cfg.Observer.Sealed(len(b.positions), now.Sub(oldest))
	if s.cfg.Sealed != nil {
		s.cfg.Sealed(slices.Clone(b.events))
	}
	for _, c := range s.cfg.Committed {
		select {
		case c <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// wakeSealer tells this process's sealer that an append committed.
func (s *Store) wakeSealer() {
	select {
	case s.sealWake <- struct{}{}:
	default:
	}
}

// Run is the sealer: it seals what is final as soon as an append of this process
// commits, or every sealPoll for other processes' appends, until ctx ends; then it
// seals once more what is final, so that a process stopping after its last append
// leaves nothing of its own behind when it can. Run it in one process at a time (the
// sealer lease); a second one costs work, never a fork.
func (s *Store) Run(ctx context.Context) error {
	tick := time.NewTicker(sealPoll)
	defer tick.Stop()
	var stopped string // the last SealError, reported once
	for {
		n, err := s.Seal(ctx)
		var se *SealError
		switch {
		case errors.As(err, &se) && se.Error() != stopped:
			stopped = se.Error()
			s.cfg.Observer.SealFailed(err)
		case err != nil && se == nil && ctx.Err() == nil:
			s.cfg.Observer.SealFailed(err)
		case err == nil:
			stopped = ""
		}
		if n > 0 && err == nil {
			continue // more may be waiting already
		}
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				if n, err := s.Seal(final); err != nil || n == 0 {
					return nil
				}
			}
		case <-s.sealWake:
		case <-tick.C:
		}
	}
}

// errBacklog refuses appends while the sealer is too far behind.
var errBacklog = ledgererr.New(ledgererr.Unavailable,
	"the log's sealer is too far behind (see secretsledger doctor); appends resume once it catches up")

// SealedThrough waits until every event committed before it was called is sealed (or
// ctx ends) and returns the sealed head: a reader of the sealed log (verify, an audit
// export) that must include what was acknowledged before it started calls it first.
func (s *Store) SealedThrough(ctx context.Context) (int64, error) {
	var upto *int64
	if err := s.pool.QueryRow(ctx, `SELECT max(position) FROM ledger_appends`).Scan(&upto); err != nil {
		return 0, storeError("read the sealer's backlog", err)
	}
	for upto != nil {
		var waiting bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_appends
			WHERE position > (SELECT coalesce(max(position), 0) FROM ledger_events) AND position <= $1)`, *upto).Scan(&waiting); err != nil {
			return 0, storeError("read the sealer's backlog", err)
		}
		if !waiting {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(sealPoll):
		}
	}
	return s.HeadPosition(ctx)
}
