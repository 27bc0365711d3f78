package queries

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Freeze is whether a company or consumer is frozen, read from the log at the time of
// asking (a freeze is one event on a short stream: there is no read model to lag).
type Freeze struct {
	Frozen bool
	// Reason, By ("type:id" of the actor) and At are those of the last freeze or
	// unfreeze; Position is its log position. All zero when it was never frozen.
	Reason   string
	By       string
	At       *time.Time
	Position int64
}

// Freezes reads freezes from the log.
type Freezes struct {
	DB *pgxpool.Pool
}

// Company returns the company's freeze.
func (q Freezes) Company(ctx context.Context, a actor.Actor, companyID string) (Freeze, error) {
	if !a.CanAccess(companyID) {
		return Freeze{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	return q.last(ctx, events.CompanyStream(companyID), events.CompanyFrozen, events.CompanyUnfrozen)
}

// Consumer returns one consumer's own freeze (its company's is Company's).
func (q Freezes) Consumer(ctx context.Context, a actor.Actor, c events.Consumer) (Freeze, error) {
	if !a.CanAccess(c.CompanyID) {
		return Freeze{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	return q.last(ctx, c.Stream(), events.ConsumerFrozen, events.ConsumerUnfrozen)
}

// last reads the stream's last freeze or unfreeze: a backward walk of the stream's
// index that stops at the first match.
func (q Freezes) last(ctx context.Context, stream, frozen, unfrozen string) (Freeze, error) {
	var f Freeze
	var typ, actorType, actorID string
	var at time.Time
	err := q.DB.QueryRow(ctx, `SELECT event_type, coalesce(payload->>'reason', ''), coalesce(metadata->>'actorType', ''),
			coalesce(metadata->>'actorId', ''), recorded_at, position
		FROM ledger_log WHERE stream_id = $1 AND event_type IN ($2, $3) ORDER BY stream_version DESC LIMIT 1`,
		stream, frozen, unfrozen).Scan(&typ, &f.Reason, &actorType, &actorID, &at, &f.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return Freeze{}, nil
	}
	if err != nil {
		return Freeze{}, unavailable(err)
	}
	f.Frozen, f.By, f.At = typ == frozen, actorType+":"+actorID, &at
	return f, nil
}
