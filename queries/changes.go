package queries

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Change is one event that may change an agent key's resolution: metadata only.
type Change struct {
	Position   int64
	Type       string
	StreamKind string // secret, consumer, company or agent_key
	SecretID   string // for a secret's event
}

// Changes reads, for an agent key, the events that may change what it resolves: those of
// its consumer (bindings, env, freeze), its company (freeze), the key itself
// (revocation) and the secrets its consumer is bound to. It reads the log, not a bus, so
// that it answers the same through any process over the database and across restarts.
type Changes struct {
	Store *eventstore.Store
	DB    *pgxpool.Pool
	// Appends, when set, wakes waiting polls on this process's appends (Appended).
	Appends *Appends
}

// maxChanges bounds one answer; the client asks again from the position it got.
const maxChanges = 500

// Head is the position of the last event of the log.
func (q Changes) Head(ctx context.Context) (int64, error) { return q.Store.HeadPosition(ctx) }

// After returns the changes for the agent key a after position after, and the position
// the answer covers: the last change when the answer is full, else the head it read up
// to, so that asking again from it never skips an event.
func (q Changes) After(ctx context.Context, a actor.Actor, after int64) ([]Change, int64, error) {
	if a.Type != actor.Agent || len(a.Companies) != 1 {
		return nil, 0, ledgererr.New(ledgererr.Forbidden, "the change feed is for agent keys")
	}
	company := a.Companies[0]
	head, err := q.Store.HeadPosition(ctx)
	if err != nil || head <= after {
		return nil, max(head, after), err
	}
	streams, err := q.streams(ctx, a, company)
	if err != nil {
		return nil, 0, err
	}
	evs, err := q.Store.ReadStreamsSince(ctx, streams, after, head, maxChanges)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Change, 0, len(evs))
	for _, e := range evs {
		if e.CompanyID != company { // a stream of another company is never another's to see
			continue
		}
		out = append(out, changeOf(e))
	}
	if len(evs) == maxChanges {
		head = evs[len(evs)-1].Position
	}
	return out, head, nil
}

// streams are the streams that decide the key's resolution: the secrets bound to its
// consumer now (binding or unbinding one is an event of the consumer's stream).
func (q Changes) streams(ctx context.Context, a actor.Actor, company string) ([]string, error) {
	rows, err := q.DB.Query(ctx, `SELECT DISTINCT secret_id FROM company_secret_bindings
		WHERE company_id = $1 AND target_type = $2 AND target_id = $3`, company, a.TargetType, a.TargetID)
	ids, err := collect(rows, err, func(row pgx.CollectableRow) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, err
	}
	streams := []string{events.ConsumerStream(company, a.TargetType, a.TargetID), events.CompanyStream(company),
		events.AgentKeyStream(a.ID)}
	for _, id := range ids {
		streams = append(streams, events.SecretStream(id))
	}
	return streams, nil
}

func changeOf(e eventstore.Event) Change {
	c := Change{Position: e.Position, Type: e.Type}
	switch s := e.StreamID; {
	case strings.HasPrefix(s, events.SecretStreamPrefix):
		c.StreamKind, c.SecretID = "secret", strings.TrimPrefix(s, events.SecretStreamPrefix)
	case strings.HasPrefix(s, events.ConsumerStreamPrefix):
		c.StreamKind = "consumer"
	case strings.HasPrefix(s, events.CompanyStreamPrefix):
		c.StreamKind = "company"
	default:
		c.StreamKind = "agent_key"
	}
	return c
}
