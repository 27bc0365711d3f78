package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/eventstore"
)

// relay reports how far the NATS relay has published the log, and fails when the relay
// cursor or a projection's checkpoint is ahead of the log's head: rows were removed from
// the log after they were published or projected (or the log was restored from an older
// backup while the read models were not).
func (r *checker) relay(ctx context.Context, conn *pgx.Conn) {
	r.sealer(ctx, conn)
	var cursor, head int64
	var at *time.Time
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT position FROM relay_cursors WHERE name = 'nats'), 0),
		(SELECT updated_at FROM relay_cursors WHERE name = 'nats'), coalesce((SELECT max(position) FROM ledger_events), 0)`).
		Scan(&cursor, &at, &head)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("relay: %v", err)})
		return
	}
	if cursor > head {
		r.report(instance.Finding{Message: fmt.Sprintf("relay: the cursor (%d) is ahead of the log's head (%d): %d published event(s) are no longer in the log "+
			"(truncated, or restored from an older backup); run secretsledger verify", cursor, head, cursor-head)})
	} else {
		msg := fmt.Sprintf("relay: published %d of %d events (lag %d)", cursor, head, head-cursor)
		if at != nil {
			msg += fmt.Sprintf(", cursor moved %s ago", time.Since(*at).Round(time.Second))
		}
		r.report(instance.Finding{OK: true, Warning: head-cursor > 1000, Message: msg})
	}
	rows, err := conn.Query(ctx, `SELECT projection, position FROM projection_checkpoints WHERE position > $1 ORDER BY projection`, head)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("projections: %v", err)})
		return
	}
	type ahead struct {
		name     string
		position int64
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ahead])
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("projections: %v", err)})
		return
	}
	for _, p := range list {
		r.report(instance.Finding{Message: fmt.Sprintf("projection %s: its checkpoint (%d) is ahead of the log's head (%d): the read model holds events the log no longer has; run secretsledger verify, then secretsledger replay",
			p.name, p.position, head)})
	}
	if len(list) == 0 {
		r.report(instance.Finding{OK: true, Message: "projections: no checkpoint ahead of the log's head"})
	}
}

// sealerWarnAge is how long an event may wait for the sealer before doctor warns.
const sealerWarnAge = 5 * time.Second

// sealer reports the events acknowledged but not yet chained and how long the oldest
// has waited; a backlog that does not drain means no process can seal (or the sealer
// stopped before an event it must not chain: its log says which and why).
func (r *checker) sealer(ctx context.Context, conn *pgx.Conn) {
	var n int64
	var age *float64
	err := conn.QueryRow(ctx, `SELECT count(*), extract(epoch FROM now() - min(recorded_at))::float8 FROM ledger_appends`).Scan(&n, &age)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("sealer: %v", err)})
		return
	}
	if n == 0 {
		r.report(instance.Finding{OK: true, Message: "sealer: every acknowledged event is chained"})
		return
	}
	oldest := time.Duration(*age * float64(time.Second)).Round(time.Millisecond)
	r.report(instance.Finding{OK: true, Warning: oldest > sealerWarnAge, Message: fmt.Sprintf(
		"sealer: %d acknowledged event(s) wait to be chained, the oldest for %s; past %d events or %s appends are refused",
		n, oldest, eventstore.DefaultMaxUnsealed, eventstore.DefaultMaxUnsealedAge)})
}
