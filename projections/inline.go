package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// Projection is a read model that can be rebuilt from the log.
type Projection interface {
	eventstore.Projector
	Name() string
	// Tables lists the projection's tables, children first.
	Tables() []string
	// Reader says what the projection does with each event type: its handlers and
	// what it ignores on purpose (its exhaustiveness test and docs/events.md read it).
	Reader() events.Reader
	// queue is Queue with the payloads already decoded (payloads[i] is events[i]'s),
	// so that several projections decode each event once.
	queue(b *pgx.Batch, events []eventstore.Event, payloads []any) error
}

// queueDecoding is Queue for one projection: decode, then queue.
func queueDecoding(p Projection, b *pgx.Batch, evs []eventstore.Event) error {
	payloads, err := decodeAll(evs)
	if err != nil {
		return err
	}
	return p.queue(b, evs, payloads)
}

// decodeAll decodes the payloads of a batch of events.
func decodeAll(evs []eventstore.Event) ([]any, error) {
	payloads := make([]any, len(evs))
	for i, e := range evs {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		payloads[i] = p
	}
	return payloads, nil
}

// checkpoints queues the checkpoint of each projection after a rebuild's batch of
// events: the position the rebuild reached. Appends do not move the checkpoints: they
// commit in parallel, and one row every append updates would serialize them all. A
// checkpoint says that the projection was built, and from which position on the log
// was applied inline.
func (in Inline) checkpoints(b *pgx.Batch, evs []eventstore.Event) {
	if len(evs) == 0 {
		return
	}
	for _, p := range in {
		b.Queue(`INSERT INTO projection_checkpoints (projection, position) VALUES ($1, $2)
			ON CONFLICT (projection) DO UPDATE SET position = excluded.position`, p.Name(), evs[len(evs)-1].Position)
	}
}

// All is every projection of the ledger, in the order they are applied.
func All() []Projection { return []Projection{Secrets{}, Consumers{}, Vaults{}} }

// Inline applies several projections in the append transaction.
type Inline []Projection

// Queue implements eventstore.Projector.
func (in Inline) Queue(b *pgx.Batch, evs []eventstore.Event) error {
	payloads, err := decodeAll(evs)
	if err != nil {
		return err
	}
	for _, p := range in {
		if err := p.queue(b, evs, payloads); err != nil {
			return err
		}
	}
	return nil
}

// Translate implements eventstore.Projector.
func (in Inline) Translate(err error) error {
	for _, p := range in {
		if t := p.Translate(err); t != err {
			return t
		}
	}
	return err
}

// Project applies events to the read models over db (a transaction) in one round trip,
// as a rebuild does: with the projections' checkpoints.
func (in Inline) Project(ctx context.Context, db eventstore.DB, events []eventstore.Event) error {
	b := &pgx.Batch{}
	if err := in.Queue(b, events); err != nil {
		return err
	}
	in.checkpoints(b, events)
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("projections: %w", in.Translate(err))
	}
	return nil
}
