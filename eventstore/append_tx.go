package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgfault"
)

// One transaction (of one or several appends, see group_commit.go) takes two round trips,
// in parallel with the transactions of other processes and of this one:
//
//  1. BEGIN; the locks of every stream the appends name (written exclusively, read
//     shared), all at once and in stream id order, so that two transactions never wait
//     on each other in a cycle; then ledger_reserve() for each append in turn: the
//     idempotency key's record if the key is known; else the versions checked (an
//     append sees those the earlier ones bumped) and the positions taken;
//  2. INSERT the events into ledger_appends, each with the writer's MAC over its
//     content and position; the inline projector's statements; the appends' own
//     statements; COMMIT.
//
// The positions and versions are only known after the first, and the MAC and the
// projections need them: hence two round trips rather than one.

// appendTimeout bounds one append's transaction.
const appendTimeout = 30 * time.Second

// appendAttempts bounds the tries of an append whose transaction lost a race that
// trying again settles: another append with the same idempotency key committed first
// (the next try replays it), or a deadlock in a read model's rows.
const appendAttempts = 3

// pendingTag stands where a sealed event's prev_hash does in the hash an appended event
// is authenticated by before it is sealed, so that this hash is never taken for a chain
// hash nor the other way round.
var pendingTag = func() []byte {
	h := sha256.Sum256([]byte("secretsledger: an appended event, not yet sealed"))
	return h[:]
}()

// pendingHash is what the writer's MAC covers for an event in ledger_appends: its
// position, stream version (0 when the sealer numbers it), content as sent and
// recorded_at.
func pendingHash(f chainFields) []byte { return chainHash(pendingTag, f) }

func (s *Store) appendRetrying(ctx context.Context, p *pendingAppend) appendOutcome {
	var out tryOutcome
	for range appendAttempts {
		if out = s.submit(ctx, p); !out.retry {
			break
		}
	}
	return out.appendOutcome
}

// reservation is what ledger_reserve answered.
type reservation struct {
	outcome       string
	positions     []int64
	streamVersion *int64
	foundStream   *string
	foundVersion  *int64
	foundExpected *int64
	idemHash      []byte
	idemFirst     *int64
	idemLast      *int64
}

// planned is an append's lock set (see lockSet); stale, when set, refuses it before any
// round trip.
type planned struct {
	expected int64
	cond     []StreamVersion
	stale    *appendOutcome
}

// runBatch runs one transaction for batch: outs answers each append, or failed says why
// the transaction failed as a whole. It finishes even when its callers have gone.
func (s *Store) runBatch(batch []*queuedAppend) (outs []tryOutcome, failed *tryOutcome) {
	fail := func(err error, retry bool) *tryOutcome {
		return &tryOutcome{appendOutcome: appendOutcome{err: storeError("append", err)}, retry: retry}
	}
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fail(err, false)
	}
	defer conn.Release()
	start := time.Now()
	recordedAt := s.now().UTC().Truncate(time.Microsecond)
	committed := false
	defer func() {
		if !committed {
			rollback(conn)
		}
	}()
	plans := make([]planned, len(batch))
	for i, q := range batch {
		plans[i].expected, plans[i].cond, plans[i].stale = q.p.lockSet()
	}
	rs, err := reserve(ctx, conn, batch, plans, recordedAt, s.now().Add(-s.cfg.IdempotencyTTL))
	if err != nil {
		// Nothing committed: a connection the server ended (a failover, a restart) is
		// dropped and the next try takes another.
		return nil, fail(err, retryable(err) || pgfault.Unavailable(err))
	}
	outs = make([]tryOutcome, len(batch))
	rows := pendingBatch{recordedAt: recordedAt}
	var statements []Statement
	for i, q := range batch {
		if plans[i].stale != nil {
			outs[i].appendOutcome = *plans[i].stale
			continue
		}
		if outs[i] = decided(rs[i], q.p); rs[i].outcome != "reserved" {
			continue
		}
		if outs[i].res, err = s.pendingRows(&rows, q.p, rs[i]); err != nil {
			return nil, &tryOutcome{appendOutcome: appendOutcome{err: err}}
		}
		statements = append(statements, q.p.statements...)
	}
	if len(rows.positions) == 0 {
		return outs, nil // nothing reserved, nothing changed: the deferred rollback ends it
	}
	if err := s.writePending(ctx, conn, rows, statements); err != nil {
		if s.cfg.Projector != nil {
			err = s.cfg.Projector.Translate(err)
		}
		if ledgererr.CodeOf(err) == ledgererr.Conflict {
			return nil, &tryOutcome{appendOutcome: appendOutcome{err: err, conflict: ConflictUnique}}
		}
		return nil, fail(err, retryable(err))
	}
	committed = true
	s.cfg.Observer.BatchCommitted(len(rows.recorded), time.Since(start))
	if s.cfg.Recorded != nil {
		s.cfg.Recorded(rows.recorded)
	}
	s.wakeSealer()
	return outs, nil
}

// decided is an append's answer from its reservation, but for a reserved one, whose
// result pendingRows makes.
func decided(r reservation, p *pendingAppend) tryOutcome {
	switch r.outcome {
	case "reserved":
		return tryOutcome{}
	case "replay":
		res := AppendResult{StreamID: deref(r.foundStream), FirstPosition: deref(r.idemFirst),
			LastPosition: deref(r.idemLast), StreamVersion: deref(r.streamVersion)}
		return tryOutcome{appendOutcome: replayOrConflict(idemRecord{hash: r.idemHash, result: res}, p.idem)}
	case "stale":
		return tryOutcome{appendOutcome: staleOutcome(deref(r.foundStream), deref(r.foundVersion), deref(r.foundExpected))}
	case "retry":
		return tryOutcome{appendOutcome: appendOutcome{err: ledgererr.New(ledgererr.Unavailable,
			"an append with the same idempotency key is in flight; retry")}, retry: true}
	}
	return tryOutcome{appendOutcome: appendOutcome{err: ledgererr.New(ledgererr.Internal, "ledger_reserve answered %q", r.outcome)}}
}

// lockSet is the expected version of p's stream and the streams its decision read, as
// ledger_reserve takes them: a condition on the written stream itself becomes its
// expected version, repeated conditions one. Two that cannot both hold are a stale
// outcome at once.
func (p *pendingAppend) lockSet() (expected int64, cond []StreamVersion, stale *appendOutcome) {
	expected = p.expected
	seen := map[string]int64{}
	for _, c := range p.also {
		if c.Stream == p.stream {
			if expected != AnyVersion && expected != c.Version {
				out := staleOutcome(p.stream, expected, c.Version)
				return 0, nil, &out
			}
			expected = c.Version
			continue
		}
		if v, ok := seen[c.Stream]; ok {
			if v != c.Version {
				out := staleOutcome(c.Stream, v, c.Version)
				return 0, nil, &out
			}
			continue
		}
		seen[c.Stream] = c.Version
		cond = append(cond, c)
	}
	return expected, cond, nil
}

// reserve sends the first round trip for batch: BEGIN, the locks of every stream the
// appends name in stream id order (exclusive for a counted stream an append writes,
// shared for one only read), and ledger_reserve for each append not refused already;
// it returns each one's reservation.
func reserve(ctx context.Context, conn *pgxpool.Conn, batch []*queuedAppend, plans []planned,
	recordedAt, idemSince time.Time) ([]reservation, error) {
	write := map[string]bool{}
	for i, q := range batch {
		if plans[i].stale != nil {
			continue
		}
		if plans[i].expected != Unversioned {
			write[q.p.stream] = true
		}
		for _, c := range plans[i].cond {
			if _, ok := write[c.Stream]; !ok {
				write[c.Stream] = false // read only, unless another append writes it
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	for _, id := range slices.Sorted(maps.Keys(write)) {
		b.Queue(`SELECT ledger_lock_stream($1, $2)`, id, write[id])
	}
	for i, q := range batch {
		if plans[i].stale != nil {
			continue
		}
		streams := make([]string, len(plans[i].cond))
		versions := make([]int64, len(plans[i].cond))
		for j, c := range plans[i].cond {
			streams[j], versions[j] = c.Stream, c.Version
		}
		var key *string
		var hash []byte
		if q.p.idem != nil {
			key, hash = &q.p.idem.Key, q.p.idem.RequestHash
		}
		b.Queue(`SELECT outcome, positions, stream_version, found_stream, found_version, found_expected,
				idem_hash, idem_first, idem_last
			FROM ledger_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true)`,
			q.p.stream, plans[i].expected, len(q.p.events), streams, versions, q.p.company, key, hash, idemSince, recordedAt)
	}
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range 1 + len(write) {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rs := make([]reservation, len(batch))
	for i := range batch {
		if plans[i].stale != nil {
			continue
		}
		r := &rs[i]
		if err := br.QueryRow().Scan(&r.outcome, &r.positions, &r.streamVersion, &r.foundStream, &r.foundVersion,
			&r.foundExpected, &r.idemHash, &r.idemFirst, &r.idemLast); err != nil {
			return nil, err
		}
	}
	return rs, br.Close()
}

// pendingBatch is what an append writes to ledger_appends, as column arrays for unnest.
type pendingBatch struct {
	positions                                      []int64
	versions                                       []*int64
	ids, streams, types, companies, payloads, meta []string
	schemaVersions                                 []int32
	macs                                           [][]byte
	recordedAt                                     time.Time
	recorded                                       []Event
}

// pendingRows adds p's events to rows at the positions and versions r reserved, each
// with the writer's MAC, and returns the append's result.
func (s *Store) pendingRows(rows *pendingBatch, p *pendingAppend, r reservation) (AppendResult, error) {
	recordedAt := rows.recordedAt
	if len(r.positions) != len(p.events) || !slices.IsSorted(r.positions) {
		return AppendResult{}, ledgererr.New(ledgererr.Internal, "ledger_reserve took %d positions for %d events", len(r.positions), len(p.events))
	}
	after := deref(r.streamVersion)
	counted := after > 0
	res := AppendResult{StreamID: p.stream, FirstPosition: r.positions[0], LastPosition: r.positions[len(r.positions)-1],
		StreamVersion: after}
	for i, e := range p.events {
		id, err := s.ids.next(recordedAt)
		if err != nil {
			return res, fmt.Errorf("eventstore: new event id: %w", err)
		}
		var version int64
		var stored *int64
		if counted {
			version = after - int64(len(p.events)) + int64(i) + 1
			stored = &version
		}
		meta := encodeMetadata(e.Metadata)
		f := chainFields{position: r.positions[i], eventID: id.String(), streamID: p.stream, streamVersion: version,
			eventType: e.Type, schemaVersion: e.SchemaVersion, companyID: e.CompanyID, payload: e.Payload,
			metadata: meta, recordedAt: recordedAt}
		rows.positions = append(rows.positions, f.position)
		rows.versions = append(rows.versions, stored)
		rows.ids = append(rows.ids, f.eventID)
		rows.streams = append(rows.streams, p.stream)
		rows.types = append(rows.types, e.Type)
		rows.schemaVersions = append(rows.schemaVersions, int32(e.SchemaVersion))
		rows.companies = append(rows.companies, e.CompanyID)
		rows.payloads = append(rows.payloads, string(e.Payload))
		rows.meta = append(rows.meta, string(meta))
		rows.macs = append(rows.macs, s.cfg.Authenticator.EventMAC(pendingHash(f)))
		rows.recorded = append(rows.recorded, Event{Position: f.position, EventID: id, StreamID: p.stream,
			StreamVersion: version, Type: e.Type, SchemaVersion: e.SchemaVersion, CompanyID: e.CompanyID,
			Payload: bytes.Clone(e.Payload), Metadata: e.Metadata, RecordedAt: recordedAt})
		res.EventIDs = append(res.EventIDs, id)
	}
	return res, nil
}

// writePending sends, in one round trip, the events' INSERT, the inline projector's
// statements, the appends' own statements and COMMIT.
func (s *Store) writePending(ctx context.Context, conn *pgxpool.Conn, r pendingBatch, statements []Statement) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO ledger_appends (position, event_id, stream_id, stream_version, event_type, schema_version,
			company_id, payload, metadata, recorded_at, mac)
		SELECT pos, id, stream, ver, typ, sv, company, payload, meta, $10, mac
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::text[],
			$8::text[], $9::text[], $11::bytea[]) AS t(pos, id, stream, ver, typ, sv, company, payload, meta, mac)`,
		r.positions, r.ids, r.streams, r.versions, r.types, r.schemaVersions, r.companies, r.payloads, r.meta,
		r.recordedAt, r.macs)
	if s.cfg.Projector != nil {
		if err := s.cfg.Projector.Queue(b, r.recorded); err != nil {
			return err
		}
	}
	for _, st := range statements {
		q := b.Queue(st.SQL, st.Args...)
		if st.Row != nil {
			q.QueryRow(st.Row)
		}
	}
	b.Queue(`COMMIT`)
	return conn.SendBatch(ctx, b).Close()
}

// rollback ends a transaction left open by a failed round trip; a connection that
// cannot even do that is closed rather than returned to the pool mid-transaction.
func rollback(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
		_ = conn.Conn().Close(ctx)
	}
}

// retryable reports a failure that another try of the whole transaction settles: a
// deadlock or a serialization failure among the read models' rows.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

type idemRecord struct {
	hash   []byte
	result AppendResult
}

func replayOrConflict(r idemRecord, idem *Idempotency) appendOutcome {
	if !bytes.Equal(r.hash, idem.RequestHash) {
		return appendOutcome{err: ledgererr.New(ledgererr.Conflict,
			"idempotency key %q was already used for a different request", idem.Key), conflict: ConflictIdempotency}
	}
	res := r.result
	res.Replayed = true
	return appendOutcome{res: res}
}
