package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// appendLockKey serializes appends across every process writing to the database.
// WARNING: shared by every ledger process on one database; never change it.
const appendLockKey int64 = 0x5345435245545302 // "SECRETS\x02"

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 30 * time.Second

// Idempotency makes an append safe to retry. RequestHash fingerprints the caller's
// request (for example an HMAC of the HTTP body): the same key with the same hash gets
// the first result again; the same key with another hash is a conflict. When
// RequestHash is empty, it is derived from the stream, the expected version and the
// events' types, company and payloads.
type Idempotency struct {
	Key         string
	RequestHash []byte
}

type pendingAppend struct {
	ctx      context.Context
	stream   string
	expected int64
	events   []EventData
	idem     *Idempotency
	company  string
	reply    chan appendOutcome
}

type appendOutcome struct {
	res AppendResult
	err error
}

// Append writes events to stream atomically, provided the stream is at expected
// (AnyVersion, NoStream or a version number); otherwise it returns an ECONFLICT
// *ledgererr.Error and writes nothing. When the first event's Metadata carries an
// IdempotencyKey, the append is idempotent on it (see Idempotency).
func (s *Store) Append(ctx context.Context, stream string, expected int64, events ...EventData) (AppendResult, error) {
	var idem *Idempotency
	if len(events) > 0 && events[0].Metadata.IdempotencyKey != "" {
		idem = &Idempotency{Key: events[0].Metadata.IdempotencyKey}
	}
	return s.AppendIdempotent(ctx, idem, stream, expected, events...)
}

// AppendIdempotent is Append with an explicit idempotency key and request fingerprint;
// idem may be nil.
func (s *Store) AppendIdempotent(ctx context.Context, idem *Idempotency, stream string, expected int64, events ...EventData) (AppendResult, error) {
	p, err := newPending(ctx, idem, stream, expected, events)
	if err != nil {
		return AppendResult{}, err
	}
	select {
	case s.queue <- p:
	case <-s.stopped:
		return AppendResult{}, errStopped
	case <-ctx.Done():
		return AppendResult{}, ctx.Err()
	}
	select {
	case out := <-p.reply:
		return out.res, out.err
	case <-ctx.Done():
		// The append may still commit; like any lost response, the caller retries
		// with an idempotency key to learn the outcome.
		return AppendResult{}, ctx.Err()
	}
}

var errStopped = ledgererr.New(ledgererr.Unavailable, "event store is shutting down")

// newPending validates an append before it joins a batch, so that one caller's bad
// input can never fail a transaction shared with others.
func newPending(ctx context.Context, idem *Idempotency, stream string, expected int64, events []EventData) (*pendingAppend, error) {
	switch {
	case stream == "":
		return nil, ledgererr.New(ledgererr.Invalid, "stream id is required")
	case len(events) == 0:
		return nil, ledgererr.New(ledgererr.Invalid, "append needs at least one event")
	case expected < AnyVersion:
		return nil, ledgererr.New(ledgererr.Invalid, "expected version %d is not valid", expected)
	}
	company := events[0].CompanyID
	for i, e := range events {
		switch {
		case e.Type == "":
			return nil, ledgererr.New(ledgererr.Invalid, "event %d has no type", i)
		case e.SchemaVersion < 1:
			return nil, ledgererr.New(ledgererr.Invalid, "event %d (%s) has no schema version", i, e.Type)
		case !json.Valid(e.Payload) || bytes.Contains(e.Payload, []byte(`\u0000`)):
			// PostgreSQL's jsonb refuses NUL characters; catch them here too.
			return nil, ledgererr.New(ledgererr.Invalid, "event %d (%s) payload is not valid JSON", i, e.Type)
		case e.CompanyID != company:
			return nil, ledgererr.New(ledgererr.Invalid, "events of one append must belong to one company")
		}
	}
	p := &pendingAppend{ctx: ctx, stream: stream, expected: expected, events: events, company: company,
		reply: make(chan appendOutcome, 1)}
	if idem != nil {
		if idem.Key == "" {
			return nil, ledgererr.New(ledgererr.Invalid, "idempotency key is empty")
		}
		cp := *idem
		if len(cp.RequestHash) == 0 {
			cp.RequestHash = requestHash(stream, expected, events)
		}
		p.idem = &cp
	}
	return p, nil
}

func requestHash(stream string, expected int64, events []EventData) []byte {
	h := sha256.New()
	write := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte(stream))
	write([]byte(fmt.Sprint(expected)))
	for _, e := range events {
		write([]byte(e.Type))
		write([]byte(fmt.Sprint(e.SchemaVersion)))
		write([]byte(e.CompanyID))
		write(e.Payload)
	}
	return h.Sum(nil)
}

// Run is the group-commit writer: it takes queued appends, batches them into one
// transaction each, and answers every caller. It returns when ctx is done; appends
// still queued then fail with EUNAVAILABLE.
func (s *Store) Run(ctx context.Context) error {
	defer close(s.stopped)
	for {
		var first *pendingAppend
		select {
		case <-ctx.Done():
			s.failQueued()
			return nil
		case first = <-s.queue:
		}
		batch := s.collect(ctx, first)
		// The batch finishes even when ctx ends meanwhile: its callers are waiting.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
		s.commit(bctx, batch)
		cancel()
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case p := <-s.queue:
			p.reply <- appendOutcome{err: errStopped}
		default:
			return
		}
	}
}

// collect gathers appends that are already queued (and, with MaxBatchWait, those that
// arrive within it) up to MaxBatchEvents.
func (s *Store) collect(ctx context.Context, first *pendingAppend) []*pendingAppend {
	batch := []*pendingAppend{first}
	n := len(first.events)
	var deadline <-chan time.Time
	if s.cfg.MaxBatchWait > 0 {
		t := time.NewTimer(s.cfg.MaxBatchWait)
		defer t.Stop()
		deadline = t.C
	}
	for n < s.cfg.MaxBatchEvents {
		select {
		case p := <-s.queue:
			batch = append(batch, p)
			n += len(p.events)
			continue
		default:
		}
		if deadline == nil {
			break
		}
		select {
		case p := <-s.queue:
			batch = append(batch, p)
			n += len(p.events)
			continue
		case <-deadline:
		case <-ctx.Done():
		}
		break
	}
	return batch
}

// commit writes a batch. Per-append refusals (conflicts) are decided before the insert
// and do not fail the transaction. If the transaction fails as a whole, each append of
// a multi-append batch is retried alone so every caller gets its own outcome.
func (s *Store) commit(ctx context.Context, batch []*pendingAppend) {
	live := batch[:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.reply <- appendOutcome{err: err} // the caller has gone; write nothing for it.
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	outcomes, err := s.writeBatch(ctx, live)
	if err != nil && len(live) > 1 {
		for _, p := range live {
			s.commit(ctx, []*pendingAppend{p})
		}
		return
	}
	for i, p := range live {
		if err != nil {
			p.reply <- appendOutcome{err: storeError("append", err)}
			continue
		}
		p.reply <- outcomes[i]
	}
}

type idemKey struct{ company, key string }

type idemRecord struct {
	hash   []byte
	result AppendResult
}

// writeBatch runs one transaction: lock, read head and stream versions and idempotency
// records and the jsonb-normalised payloads in one round trip, decide each append,
// COPY the accepted rows, commit.
func (s *Store) writeBatch(ctx context.Context, batch []*pendingAppend) ([]appendOutcome, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	var streams, idemCompanies, idemKeys []string
	var payloads, metas []string
	seenStream := map[string]bool{}
	for _, p := range batch {
		if !seenStream[p.stream] {
			seenStream[p.stream] = true
			streams = append(streams, p.stream)
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
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, appendLockKey)
	b.Queue(`SELECT position, hash FROM ledger_events ORDER BY position DESC LIMIT 1`)
	b.Queue(`SELECT stream_id, max(stream_version) FROM ledger_events WHERE stream_id = ANY($1) GROUP BY stream_id`, streams)
	b.Queue(`SELECT k.company_id, k.idempotency_key, k.request_hash, k.stream_id, k.first_position, k.last_position, k.stream_version
		FROM ledger_idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS q(company_id, idempotency_key)
		USING (company_id, idempotency_key)`, idemCompanies, idemKeys)
	b.Queue(`SELECT p::jsonb::text, m::jsonb::text FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(p, m, i) ORDER BY i`,
		payloads, metas)
	br := tx.SendBatch(ctx, b)

	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	headPos, headHash := int64(0), genesisHash
	if err := br.QueryRow().Scan(&headPos, &headHash); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		br.Close()
		return nil, err
	}
	versions := map[string]int64{}
	var sid string
	var ver int64
	rows, _ := br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&sid, &ver}, func() error { versions[sid] = ver; return nil }); err != nil {
		br.Close()
		return nil, err
	}
	idem := map[idemKey]idemRecord{}
	var rec idemRecord
	var company, key string
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&company, &key, &rec.hash, &rec.result.StreamID, &rec.result.FirstPosition,
		&rec.result.LastPosition, &rec.result.StreamVersion}, func() error {
		idem[idemKey{company, key}] = idemRecord{hash: bytes.Clone(rec.hash), result: rec.result}
		return nil
	}); err != nil {
		br.Close()
		return nil, err
	}
	normPayloads := make([]string, 0, len(payloads))
	normMetas := make([]string, 0, len(metas))
	var np, nm string
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&np, &nm}, func() error {
		normPayloads = append(normPayloads, np)
		normMetas = append(normMetas, nm)
		return nil
	}); err != nil {
		br.Close()
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, err
	}

	now := s.now().UTC().Truncate(time.Microsecond)
	outcomes := make([]appendOutcome, len(batch))
	var eventRows [][]any
	var idemRows [][]any
	nextEvent := 0 // index into the normalised payloads, in batch order
	for i, p := range batch {
		first := nextEvent
		nextEvent += len(p.events)
		if p.idem != nil {
			if r, ok := idem[idemKey{p.company, p.idem.Key}]; ok {
				if bytes.Equal(r.hash, p.idem.RequestHash) {
					res := r.result
					res.Replayed = true
					outcomes[i] = appendOutcome{res: res}
				} else {
					outcomes[i] = appendOutcome{err: ledgererr.New(ledgererr.Conflict,
						"idempotency key %q was already used for a different request", p.idem.Key)}
				}
				continue
			}
		}
		current := versions[p.stream]
		if p.expected != AnyVersion && p.expected != current {
			outcomes[i] = appendOutcome{err: ledgererr.New(ledgererr.Conflict,
				"stream %s is at version %d, expected %d", p.stream, current, p.expected)}
			continue
		}
		res := AppendResult{StreamID: p.stream, FirstPosition: headPos + 1}
		for j, e := range p.events {
			id, err := s.ids.next(now)
			if err != nil {
				return nil, fmt.Errorf("eventstore: new event id: %w", err)
			}
			headPos++
			current++
			f := chainFields{
				position: headPos, eventID: id.String(), streamID: p.stream, streamVersion: current,
				eventType: e.Type, schemaVersion: e.SchemaVersion, companyID: e.CompanyID,
				payload: []byte(normPayloads[first+j]), metadata: []byte(normMetas[first+j]), recordedAt: now,
			}
			hash := chainHash(headHash, f)
			eventRows = append(eventRows, []any{f.position, f.eventID, f.streamID, f.streamVersion, f.eventType,
				int32(f.schemaVersion), f.companyID, f.payload, f.metadata, now, headHash, hash})
			headHash = hash
			res.EventIDs = append(res.EventIDs, id)
		}
		versions[p.stream] = current
		res.LastPosition, res.StreamVersion = headPos, current
		outcomes[i] = appendOutcome{res: res}
		if p.idem != nil {
			idem[idemKey{p.company, p.idem.Key}] = idemRecord{hash: p.idem.RequestHash, result: res}
			idemRows = append(idemRows, []any{p.company, p.idem.Key, p.idem.RequestHash, p.stream,
				res.FirstPosition, res.LastPosition, res.StreamVersion, now})
		}
	}

	if len(eventRows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_events"}, eventColumns, pgx.CopyFromRows(eventRows)); err != nil {
			return nil, err
		}
	}
	if len(idemRows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_idempotency_keys"}, idemColumns, pgx.CopyFromRows(idemRows)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return outcomes, nil
}

var eventColumns = []string{"position", "event_id", "stream_id", "stream_version", "event_type", "schema_version",
	"company_id", "payload", "metadata", "recorded_at", "prev_hash", "hash"}

var idemColumns = []string{"company_id", "idempotency_key", "request_hash", "stream_id", "first_position",
	"last_position", "stream_version", "recorded_at"}
