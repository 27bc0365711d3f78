package eventstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// finalWait bounds how long one Seal waits for the transactions older than its probe
// (a long transaction elsewhere on the cluster holds pg_snapshot_xmin back); finalPoll
// is how often it looks.
const (
	finalWait = time.Second
	finalPoll = time.Millisecond
)

// probe is what the sealer may seal once the transactions it waits for have ended: the
// positions up to upto, once pg_snapshot_xmin() is past xid. The sealer reads the
// sequence's last value first and takes xid after, in one transaction; every append
// takes its xid before its positions, so the transactions that could still commit a
// position up to upto all have xids below xid.
type probe struct {
	upto int64
	xid  string // xid8 as text
}

// sealState is the sealer's: the probe of the next batch, the head it last saw, and the
// lock that serializes Seal calls.
type sealState struct {
	mu    sync.Mutex
	probe *probe
	head  int64
}

// queueProbe queues the probe's two statements, inside a transaction that has not taken
// an xid yet and writes nothing before them.
func queueProbe(b *pgx.Batch) {
	b.Queue(`SET LOCAL synchronous_commit = off`) // what it writes is redone identically if lost
	b.Queue(`SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ledger_position_seq`)
	b.Queue(`SELECT pg_current_xact_id()::text`)
}

// readProbe reads the results of BEGIN and queueProbe's statements.
func readProbe(br pgx.BatchResults) (probe, error) {
	var p probe
	for range 2 { // BEGIN, SET LOCAL
		if _, err := br.Exec(); err != nil {
			return p, err
		}
	}
	if err := br.QueryRow().Scan(&p.upto); err != nil {
		return p, err
	}
	return p, br.QueryRow().Scan(&p.xid)
}

// takeProbe makes a probe in a transaction of its own; found is false when nothing
// waits to be sealed (no probe is needed, and none is made).
func (s *Store) takeProbe(ctx context.Context) (p probe, found bool, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT EXISTS (SELECT 1 FROM ledger_appends WHERE position > `+sealedFloor(1)+`)`, s.seal.head)
	b.Queue(`BEGIN`)
	queueProbe(b)
	b.Queue(`COMMIT`)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return p, false, err
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	err = br.QueryRow().Scan(&found)
	if err == nil {
		p, err = readProbe(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollback(conn)
		return p, false, err
	}
	return p, found, nil
}

// candidates reads, in one round trip, whether the transactions older than p have all
// ended and, when they have, the pending events up to p.upto (at most MaxBatchEvents)
// with the head and each stream's last sealed version. The check runs first: a later
// snapshot only sees more of them ended, so the candidates' own check (sealCandidates)
// never reads fewer than a final probe needs.
func (s *Store) candidates(ctx context.Context, p probe) (final bool, pending []pendingEvent, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8`, p.xid)
	b.Queue(sealCandidates, s.cfg.MaxBatchEvents, p.upto, s.seal.head, p.xid)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if err := br.QueryRow().Scan(&final); err != nil {
		return false, nil, err
	}
	rows, _ := br.Query()
	pending, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (pendingEvent, error) {
		var e pendingEvent
		err := row.Scan(&e.headPos, &e.headHash, &e.f.position, &e.f.eventID, &e.f.streamID, &e.version, &e.f.eventType,
			&e.f.schemaVersion, &e.f.companyID, &e.f.payload, &e.f.metadata, &e.normPayload, &e.normMeta,
			&e.f.recordedAt, &e.mac, &e.sealedVersion)
		return e, err
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, nil, err
	}
	if !final {
		return false, nil, nil
	}
	return true, pending, nil
}
