package queries

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// ExternalPolicy is a company's external-reference policy, read from the log at the
// time of asking (its last external_policy.set: each replaces the whole policy).
type ExternalPolicy struct {
	// Set is false when no policy was ever set; the lists are then empty.
	Set                                       bool
	Prefixes, References, Regions, Namespaces []string
	// Version is the policy stream's version (0: never set), the one a replace may
	// name to be refused when another replace came first.
	Version int64
	// By ("type:id" of the actor), At and Position are those of the last set.
	By       string
	At       *time.Time
	Position int64
}

// ExternalPolicies reads external-reference policies from the log.
type ExternalPolicies struct {
	DB *pgxpool.Pool
}

// Company returns the company's policy, for a board token that can access it.
func (q ExternalPolicies) Company(ctx context.Context, a actor.Actor, companyID string) (ExternalPolicy, error) {
	if a.Type != actor.Board {
		return ExternalPolicy{}, ledgererr.New(ledgererr.Forbidden, "the external-reference policy is read with board tokens")
	}
	if !a.CanAccess(companyID) {
		return ExternalPolicy{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	out := ExternalPolicy{Prefixes: []string{}, References: []string{}, Regions: []string{}, Namespaces: []string{}}
	var payload []byte
	var actorType, actorID string
	var at time.Time
	err := q.DB.QueryRow(ctx, `SELECT payload, coalesce(metadata->>'actorType', ''), coalesce(metadata->>'actorId', ''),
			recorded_at, position, stream_version
		FROM ledger_log WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1`,
		events.ExternalPolicyStream(companyID)).Scan(&payload, &actorType, &actorID, &at, &out.Position, &out.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return ExternalPolicy{}, unavailable(err)
	}
	var p events.ExternalPolicySetV1
	if err := json.Unmarshal(payload, &p); err != nil {
		return ExternalPolicy{}, ledgererr.Wrap(err, ledgererr.Internal, "the external-reference policy cannot be read")
	}
	out.Set, out.By, out.At = true, actorType+":"+actorID, &at
	out.Prefixes, out.References = orEmpty(p.Prefixes), orEmpty(p.References)
	out.Regions, out.Namespaces = orEmpty(p.Regions), orEmpty(p.Namespaces)
	return out, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
