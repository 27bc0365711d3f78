package eventstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

const selectEvents = `SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
	company_id, payload, metadata, recorded_at, prev_hash, hash FROM ledger_events `

// MaxReadLimit caps one read.
const MaxReadLimit = 10000

// ReadAll returns up to limit sealed events with position > after, in position order.
// Because the sealer chains events in position order (see the package doc), a reader
// that passes the last position it saw never skips an event.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]Event, error) {
	return ReadAll(ctx, s.pool, after, limit)
}

// ReadAll is Store.ReadAll over any connection or transaction (a rebuild reads the log
// inside the transaction that rewrites the read models).
func ReadAll(ctx context.Context, db DB, after int64, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, selectEvents+`WHERE position > $1 ORDER BY position LIMIT $2`, after, limit)
	return collectEvents(rows, err)
}

// ReadAllExcept returns up to limit events with after < position <= until whose type
// is not one of except, in position order. A reader that follows the log but ignores a
// frequent kind of event (access records) passes the head it read as until, and goes
// on after until when fewer than limit events came: every position up to a head it has
// seen is committed.
func (s *Store) ReadAllExcept(ctx context.Context, after, until int64, limit int, except []string) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	macs, err := s.readMACs(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, selectEventsWithMAC+`WHERE position > $1 AND position <= $2 AND event_type <> ALL($3)
		ORDER BY position LIMIT $4`, after, until, except, limit)
	return collectAuthentic(rows, err, macs, false)
}

// ReadCompany returns up to limit events of one company with position > after, in
// position order (the gap-free guarantee of ReadAll holds for it too).
func ReadCompany(ctx context.Context, db DB, companyID string, after int64, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, selectEvents+`WHERE company_id = $1 AND position > $2 ORDER BY position LIMIT $3`, companyID, after, limit)
	return collectEvents(rows, err)
}

// LockAppends blocks every append and the sealer, in every process, until db's
// transaction ends, once the appends in flight have committed: a rebuild holds it so
// that the log (ledger_log: sealed or not) cannot grow under it.
func LockAppends(ctx context.Context, db DB) error {
	_, err := db.Exec(ctx, `LOCK TABLE ledger_appends IN SHARE MODE`)
	return storeError("lock appends", err)
}

// ReadStream returns up to limit events of one stream with version > afterVersion, in
// version order, sealed or not: every append acknowledged before the call. A stream
// that does not exist reads as empty. A stream appended at any version reads its
// events only once sealed (they have no version before).
func (s *Store) ReadStream(ctx context.Context, stream string, afterVersion int64, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	macs, err := s.readMACs(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, selectLogWithMAC+`WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version LIMIT $3`,
		stream, afterVersion, limit)
	return collectAuthentic(rows, err, macs, false)
}

// ReadStreams returns the events of several streams after a version each (one query),
// grouped by stream, in version order, sealed or not as ReadStream does. It reads at most MaxReadLimit events in all;
// a caller that gets that many reads again after the last ones.
func (s *Store) ReadStreams(ctx context.Context, after map[string]int64) (map[string][]Event, error) {
	ids := make([]string, 0, len(after))
	versions := make([]int64, 0, len(after))
	for id, v := range after {
		ids = append(ids, id)
		versions = append(versions, v)
	}
	macs, err := s.readMACs(ctx)
	if err != nil {
		return nil, err
	}
	// LATERAL: one index range scan per stream, whatever the planner thinks of unnest.
	rows, err := s.pool.Query(ctx, `SELECT e.position, e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version,
		e.company_id, e.payload, e.metadata, e.recorded_at, e.prev_hash, e.hash, e.mac, e.sent_payload, e.sent_metadata
		FROM unnest($1::text[], $2::bigint[]) AS s(id, after)
		CROSS JOIN LATERAL (SELECT * FROM ledger_log l WHERE l.stream_id = s.id AND l.stream_version > s.after
			ORDER BY l.stream_version LIMIT $3) e
		ORDER BY e.stream_id, e.stream_version LIMIT $3`, ids, versions, MaxReadLimit)
	evs, err := collectAuthentic(rows, err, macs, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Event, len(after))
	for _, e := range evs {
		out[e.StreamID] = append(out[e.StreamID], e)
	}
	return out, nil
}

// HeadPosition returns the position of the last event, 0 for an empty log.
func (s *Store) HeadPosition(ctx context.Context) (int64, error) {
	var head int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM ledger_events`).Scan(&head)
	return head, storeError("read head", err)
}

func checkLimit(limit int) error {
	if limit < 1 || limit > MaxReadLimit {
		return ledgererr.New(ledgererr.Invalid, "limit must be between 1 and %d", MaxReadLimit)
	}
	return nil
}

func collectEvents(rows pgx.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, storeError("read", err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	return events, storeError("read", err)
}

func scanEvent(row pgx.CollectableRow) (Event, error) {
	var r storedEvent
	if err := row.Scan(&r.Position, &r.id, &r.StreamID, &r.StreamVersion, &r.Type, &r.SchemaVersion,
		&r.CompanyID, &r.Payload, &r.metadata, &r.RecordedAt, &r.PrevHash, &r.Hash); err != nil {
		return r.Event, err
	}
	return r.decode()
}
