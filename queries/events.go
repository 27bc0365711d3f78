package queries

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Events reads the log for clients that do not use NATS, and the subscribers read model.
type Events struct {
	DB *pgxpool.Pool
}

// MaxEventsPage bounds one page of events.
const MaxEventsPage = 1000

// Company returns a company's events after a position, in log order.
func (q Events) Company(ctx context.Context, a actor.Actor, companyID string, after int64, limit int) ([]eventstore.Event, error) {
	if !a.CanAccess(companyID) {
		return nil, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	if limit < 1 || limit > MaxEventsPage {
		limit = 100
	}
	return eventstore.ReadCompany(ctx, q.DB, companyID, after, limit)
}

// ActiveSubscriber is a NATS subscriber that is not revoked.
type ActiveSubscriber struct {
	ID, CompanyID, PasswordHash string
}

// ActiveSubscribers lists every subscriber the embedded NATS server must admit.
func (q Events) ActiveSubscribers(ctx context.Context) ([]ActiveSubscriber, error) {
	rows, err := q.DB.Query(ctx, `SELECT id, company_id, password_hash FROM event_subscribers WHERE revoked_at IS NULL ORDER BY id`)
	return collect(rows, err, func(row pgx.CollectableRow) (ActiveSubscriber, error) {
		var s ActiveSubscriber
		err := row.Scan(&s.ID, &s.CompanyID, &s.PasswordHash)
		return s, err
	})
}
