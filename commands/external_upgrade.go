package commands

import (
	"context"
	"errors"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// UpgradeActor is the actor of the policies the ledger writes itself for companies
// that held external references before policies existed.
// WARNING: persisted in event metadata.
const UpgradeActor = "system"

// ApproveHeld writes, for each company of held that has no policy yet, a policy that
// approves exactly what it held (its external references as exact references, and its
// AWS vaults' regions and namespaces), so that they keep working. It is safe to run on
// every start and in several processes at once: each company's policy is appended only
// to its empty stream, so one process writes it and the others find it there; a
// company that has a policy (set by an operator, or written before) keeps it. It
// returns how many policies it wrote.
func (h *Policies) ApproveHeld(ctx context.Context, held map[string]ExternalPolicy) (int, error) {
	n := 0
	for company, p := range held {
		st, err := h.rt.loadPolicy(ctx, company)
		if err != nil {
			return n, err
		}
		if st.streamVersion > 0 {
			continue
		}
		evt, err := events.New(events.ExternalPolicySet, company, events.ExternalPolicySetV1{Prefixes: []string{},
			References: orNoEntries(p.References), Regions: orNoEntries(p.Regions), Namespaces: orNoEntries(p.Namespaces),
			Upgrade: true}, eventstore.Metadata{ActorType: UpgradeActor, ActorID: "external-policy-upgrade"})
		if err != nil {
			return n, err
		}
		_, err = h.rt.append(ctx, eventstore.Append{Stream: events.ExternalPolicyStream(company), Expected: eventstore.NoStream,
			Events: []eventstore.EventData{evt}})
		var stale *eventstore.StaleError
		switch {
		case errors.As(err, &stale) || ledgererr.CodeOf(err) == ledgererr.Conflict:
			continue // another process (or an operator) wrote the company's policy first
		case err != nil:
			return n, err
		}
		n++
	}
	return n, nil
}

func orNoEntries(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
