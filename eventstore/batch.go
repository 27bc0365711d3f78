package eventstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// One group-commit transaction takes two round trips:
//
//  1. BEGIN; take the append lock; read the head (position, hash), the current version
//     of every stream in the batch, the idempotency records of its keys, and the
//     jsonb-normalised text of every payload and metadata (the hash covers what is
//     stored);
//  2. INSERT the accepted events and idempotency records; COMMIT.
//
// Between the two, decide() settles each append on its own (conflict, replay or rows).

type idemKey struct{ company, key string }

type idemRecord struct {
	hash   []byte
	result AppendResult
}

// batchState is what round trip 1 read.
type batchState struct {
	headPos      int64
	headHash     []byte
	versions     map[string]int64
	idem         map[idemKey]idemRecord
	normPayloads []string // in batch order, one per event
	normMetas    []string
}

// batchRows is what decide() wants written, as column arrays for unnest.
type batchRows struct {
	positions, versions                            []int64
	ids, streams, types, companies, payloads, meta []string
	schemaVersions                                 []int32
	prevHashes, hashes, macs                       [][]byte
	recordedAt                                     time.Time

	idemCompanies, idemKeys, idemStreams []string
	idemHashes                           [][]byte
	idemFirst, idemLast, idemVersions    []int64

	recorded   []Event // the accepted events, for the inline projector
	statements []Statement
}

// writeBatch writes one group-commit transaction and returns each append's outcome and
// the events written.
func (s *Store) writeBatch(ctx context.Context, batch []*pendingAppend) ([]appendOutcome, []Event, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			rollback(conn)
		}
	}()
	st, err := readBatchState(ctx, conn, batch, s.now().Add(-s.cfg.IdempotencyTTL))
	if err != nil {
		return nil, nil, err
	}
	outcomes, rows, err := s.decide(batch, st)
	if err != nil {
		return nil, nil, err
	}
	if err := s.writeRows(ctx, conn, rows); err != nil {
		if s.cfg.Projector != nil {
			err = s.cfg.Projector.Translate(err)
		}
		return nil, nil, err
	}
	committed = true
	return outcomes, rows.recorded, nil
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

// readBatchState reads under the append lock what decide() needs; idempotency records
// older than idemSince are expired and read as absent.
func readBatchState(ctx context.Context, conn *pgxpool.Conn, batch []*pendingAppend, idemSince time.Time) (batchState, error) {
	var streams, idemCompanies, idemKeys, payloads, metas []string
	seenStream := map[string]bool{}
	for _, p := range batch {
		for _, id := range append([]string{p.stream}, conditionStreams(p)...) {
			if !seenStream[id] {
				seenStream[id] = true
				streams = append(streams, id)
			}
		}
		if p.idem != nil {
			idemCompanies = append(idemCompanies, p.company)
			idemKeys = append(idemKeys, p.idem.Key)
		}
		for _, e := range p.events {
			payloads = append(payloads, string(e.Payload))
			metas = append(metas, string(encodeMetadata(e.Metadata)))
		}
	}

	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, appendLockKey)
	b.Queue(`SELECT position, hash FROM ledger_events ORDER BY position DESC LIMIT 1`)
	// One index probe per stream (max() over the unique (stream_id, stream_version)
	// index); a GROUP BY over ANY($1) would read every event of every stream.
	b.Queue(`SELECT s.id, v.version FROM unnest($1::text[]) AS s(id)
		CROSS JOIN LATERAL (SELECT max(stream_version) AS version FROM ledger_events WHERE stream_id = s.id) v
		WHERE v.version IS NOT NULL`, streams)
	b.Queue(`SELECT k.company_id, k.idempotency_key, k.request_hash, k.stream_id, k.first_position, k.last_position, k.stream_version
		FROM ledger_idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS q(company_id, idempotency_key)
		USING (company_id, idempotency_key) WHERE k.recorded_at > $3`, idemCompanies, idemKeys, idemSince)
	b.Queue(`SELECT p::jsonb::text, m::jsonb::text FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(p, m, i) ORDER BY i`,
		payloads, metas)
	br := conn.SendBatch(ctx, b)
	defer br.Close()

	st := batchState{headHash: genesisHash, versions: map[string]int64{}, idem: map[idemKey]idemRecord{}}
	for range 2 { // BEGIN, lock
		if _, err := br.Exec(); err != nil {
			return st, err
		}
	}
	if err := br.QueryRow().Scan(&st.headPos, &st.headHash); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return st, err
	}
	var sid string
	var ver int64
	rows, _ := br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&sid, &ver}, func() error { st.versions[sid] = ver; return nil }); err != nil {
		return st, err
	}
	var rec idemRecord
	var company, key string
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&company, &key, &rec.hash, &rec.result.StreamID, &rec.result.FirstPosition,
		&rec.result.LastPosition, &rec.result.StreamVersion}, func() error {
		st.idem[idemKey{company, key}] = idemRecord{hash: bytes.Clone(rec.hash), result: rec.result}
		return nil
	}); err != nil {
		return st, err
	}
	var np, nm string
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&np, &nm}, func() error {
		st.normPayloads = append(st.normPayloads, np)
		st.normMetas = append(st.normMetas, nm)
		return nil
	}); err != nil {
		return st, err
	}
	return st, br.Close()
}

// decide settles every append of the batch in order against the state read under the
// lock, as if each ran alone: later appends see the versions and keys of earlier ones.
func (s *Store) decide(batch []*pendingAppend, st batchState) ([]appendOutcome, batchRows, error) {
	rows := batchRows{recordedAt: s.now().UTC().Truncate(time.Microsecond)}
	outcomes := make([]appendOutcome, len(batch))
	next := 0 // index of the append's first event in st.normPayloads
	for i, p := range batch {
		first := next
		next += len(p.events)
		if p.idem != nil {
			if r, ok := st.idem[idemKey{p.company, p.idem.Key}]; ok {
				outcomes[i] = replayOrConflict(r, p.idem)
				continue
			}
		}
		current := st.versions[p.stream]
		if p.expected != AnyVersion && p.expected != current {
			outcomes[i] = staleOutcome(p.stream, current, p.expected)
			continue
		}
		if c, ok := failedCondition(p, st.versions); ok {
			outcomes[i] = staleOutcome(c.Stream, st.versions[c.Stream], c.Version)
			continue
		}
		res := AppendResult{StreamID: p.stream, FirstPosition: st.headPos + 1}
		for j, e := range p.events {
			id, err := s.ids.next(rows.recordedAt)
			if err != nil {
				return nil, rows, fmt.Errorf("eventstore: new event id: %w", err)
			}
			st.headPos++
			current++
			f := chainFields{
				position: st.headPos, eventID: id.String(), streamID: p.stream, streamVersion: current,
				eventType: e.Type, schemaVersion: e.SchemaVersion, companyID: e.CompanyID,
				payload: []byte(st.normPayloads[first+j]), metadata: []byte(st.normMetas[first+j]),
				recordedAt: rows.recordedAt,
			}
			hash := chainHash(st.headHash, f)
			rows.addEvent(f, st.headHash, hash, s.cfg.Authenticator.EventMAC(hash))
			rows.recorded = append(rows.recorded, Event{Position: f.position, EventID: id, StreamID: p.stream,
				StreamVersion: current, Type: e.Type, SchemaVersion: e.SchemaVersion, CompanyID: e.CompanyID,
				Payload: f.payload, Metadata: e.Metadata, RecordedAt: rows.recordedAt, PrevHash: st.headHash, Hash: hash})
			st.headHash = hash
			res.EventIDs = append(res.EventIDs, id)
		}
		st.versions[p.stream] = current
		rows.statements = append(rows.statements, p.statements...)
		res.LastPosition, res.StreamVersion = st.headPos, current
		outcomes[i] = appendOutcome{res: res}
		if p.idem != nil {
			st.idem[idemKey{p.company, p.idem.Key}] = idemRecord{hash: p.idem.RequestHash, result: res}
			rows.addIdempotency(p.company, p.idem, res)
		}
	}
	return outcomes, rows, nil
}

func conditionStreams(p *pendingAppend) []string {
	ids := make([]string, len(p.also))
	for i, c := range p.also {
		ids[i] = c.Stream
	}
	return ids
}

// failedCondition returns the first condition of p that versions (as earlier appends of
// the batch left them) do not meet.
func failedCondition(p *pendingAppend, versions map[string]int64) (StreamVersion, bool) {
	for _, c := range p.also {
		if versions[c.Stream] != c.Version {
			return c, true
		}
	}
	return StreamVersion{}, false
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

func (r *batchRows) addEvent(f chainFields, prev, hash, mac []byte) {
	r.positions = append(r.positions, f.position)
	r.ids = append(r.ids, f.eventID)
	r.streams = append(r.streams, f.streamID)
	r.versions = append(r.versions, f.streamVersion)
	r.types = append(r.types, f.eventType)
	r.schemaVersions = append(r.schemaVersions, int32(f.schemaVersion))
	r.companies = append(r.companies, f.companyID)
	r.payloads = append(r.payloads, string(f.payload))
	r.meta = append(r.meta, string(f.metadata))
	r.prevHashes = append(r.prevHashes, prev)
	r.hashes = append(r.hashes, hash)
	r.macs = append(r.macs, mac)
}

func (r *batchRows) addIdempotency(company string, idem *Idempotency, res AppendResult) {
	r.idemCompanies = append(r.idemCompanies, company)
	r.idemKeys = append(r.idemKeys, idem.Key)
	r.idemHashes = append(r.idemHashes, idem.RequestHash)
	r.idemStreams = append(r.idemStreams, res.StreamID)
	r.idemFirst = append(r.idemFirst, res.FirstPosition)
	r.idemLast = append(r.idemLast, res.LastPosition)
	r.idemVersions = append(r.idemVersions, res.StreamVersion)
}

// An expired key that the sweep has not removed yet is still in the table: the read
// under the append lock saw it as absent, so its row is replaced (no other writer can
// hold the key meanwhile).

// writeRows sends, in one round trip, the INSERTs of the accepted events and
// idempotency records, the inline projector's statements, the accepted appends' own
// statements, and COMMIT.
func (s *Store) writeRows(ctx context.Context, conn *pgxpool.Conn, r batchRows) error {
	b := &pgx.Batch{}
	if len(r.positions) > 0 {
		b.Queue(`INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type, schema_version,
				company_id, payload, metadata, recorded_at, prev_hash, hash, mac)
			SELECT pos, id, stream, ver, typ, sv, company, payload::jsonb, meta::jsonb, $12, prev, hash, mac
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::text[],
				$8::text[], $9::text[], $10::bytea[], $11::bytea[], $13::bytea[])
				AS t(pos, id, stream, ver, typ, sv, company, payload, meta, prev, hash, mac)`,
			r.positions, r.ids, r.streams, r.versions, r.types, r.schemaVersions, r.companies,
			r.payloads, r.meta, r.prevHashes, r.hashes, r.recordedAt, r.macs)
	}
	if len(r.idemKeys) > 0 {
		b.Queue(`INSERT INTO ledger_idempotency_keys (company_id, idempotency_key, request_hash, stream_id,
				first_position, last_position, stream_version, recorded_at)
			SELECT *, $8 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
			ON CONFLICT (company_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
				stream_id = excluded.stream_id, first_position = excluded.first_position,
				last_position = excluded.last_position, stream_version = excluded.stream_version,
				recorded_at = excluded.recorded_at`,
			r.idemCompanies, r.idemKeys, r.idemHashes, r.idemStreams, r.idemFirst, r.idemLast, r.idemVersions, r.recordedAt)
	}
	if s.cfg.Projector != nil && len(r.recorded) > 0 {
		if err := s.cfg.Projector.Queue(b, r.recorded); err != nil {
			return err
		}
	}
	for _, st := range r.statements {
		q := b.Queue(st.SQL, st.Args...)
		if st.Row != nil {
			q.QueryRow(st.Row)
		}
	}
	b.Queue(`COMMIT`)
	return conn.SendBatch(ctx, b).Close()
}
