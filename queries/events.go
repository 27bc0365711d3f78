package queries

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Events reads the log for clients that do not use NATS, and the subscribers read model.
type Events struct {
	DB *pgxpool.Pool
}

// Company returns a page of a company's events, in log order.
func (q Events) Company(ctx context.Context, a actor.Actor, companyID string, p PageRequest) (Page[eventstore.Event], error) {
	if !a.CanAccess(companyID) {
		return Page[eventstore.Event]{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	var after int64
	if _, err := p.decodeCursor(&after); err != nil {
		return Page[eventstore.Event]{}, err
	}
	evs, err := eventstore.ReadCompany(ctx, q.DB, companyID, after, p.size()+1)
	if err != nil {
		return Page[eventstore.Event]{}, err
	}
	return pageOf(p, evs, func(e eventstore.Event) []any { return []any{e.Position} }), nil
}

// ActiveSubscriber is a NATS subscriber that is not revoked.
type ActiveSubscriber struct {
	ID, CompanyID, PasswordHash string
}

// ActiveSubscribers lists every subscriber whose NATS consumer the ledger keeps: the
// read model's unrevoked ones that the log confirms, each issued by its stream's first
// event, for the same company, and not revoked since. The runtime role writes the read
// model, so a row moved to another company (or revived) must not move (or revive) the
// consumer that an issued JWT pulls from.
func (q Events) ActiveSubscribers(ctx context.Context) ([]ActiveSubscriber, error) {
	rows, err := q.DB.Query(ctx, `SELECT s.id, s.company_id, s.password_hash FROM event_subscribers s
		JOIN ledger_log e ON e.stream_id = $1 || s.id AND e.stream_version = 1 AND e.event_type = $2
			AND e.company_id = s.company_id AND e.payload->>'subscriberId' = s.id
		WHERE s.revoked_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM ledger_log r WHERE r.stream_id = e.stream_id AND r.event_type = $3)
		ORDER BY s.id`, events.EventSubscriberStreamPrefix, events.EventSubscriberIssued, events.EventSubscriberRevoked)
	return collect(rows, err, func(row pgx.CollectableRow) (ActiveSubscriber, error) {
		var s ActiveSubscriber
		err := row.Scan(&s.ID, &s.CompanyID, &s.PasswordHash)
		return s, err
	})
}
