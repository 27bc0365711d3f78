package audit

import (
	"context"
	"sort"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// SecretExposure answers "who could read this secret, and who did": every consumer
// bound to it during the window, what each binding resolved to over time, the reads
// and failed attempts, and the agent keys that could act as those consumers.
type SecretExposure struct {
	SecretID, CompanyID, Name, Key string
	Window                         Window
	// Position is the log position the answer was computed at.
	Position int64
	// Status and Versions are the secret's whole history up to Position (not clipped
	// to the window), so a deleted or purged secret shows how it got there.
	Status    []StatusChange
	Versions  []VersionSpan
	Consumers []ConsumerExposure
	// Reported are the leak scans' findings of the secret during the window.
	Reported []ReportedExposure
}

// ConsumerExposure is one consumer's side of a secret's exposure.
type ConsumerExposure struct {
	TargetType, TargetID string
	// Bindings are the consumer's bindings to the secret that existed during the window.
	Bindings []BindingSpan
	Reads    Reads
	Failures []Failures
	// AgentKeys are every agent key of the consumer; ActiveInWindow marks those that
	// could act as it during the window.
	AgentKeys []AgentKey
}

// SecretExposure folds the exposure of secret id from the log. A secret the actor may
// not see, or that never existed, is not found.
func (l Log) SecretExposure(ctx context.Context, a actor.Actor, id string, w Window) (SecretExposure, error) {
	if err := w.Validate(); err != nil {
		return SecretExposure{}, err
	}
	head, err := l.head(ctx)
	if err != nil {
		return SecretExposure{}, err
	}
	secrets, err := l.readSecrets(ctx, []string{id}, head)
	if err != nil {
		return SecretExposure{}, err
	}
	h := secrets[id]
	if h == nil || requireBoard(a, h.company) != nil {
		return SecretExposure{}, errNotFound
	}
	out := SecretExposure{SecretID: id, CompanyID: h.company, Name: h.name, Key: h.key, Window: w, Position: head,
		Status: h.status, Versions: h.versions}

	spans, err := l.secretBindingSpans(ctx, id, h.company, head)
	if err != nil {
		return out, err
	}
	cs := consumerExposures{byConsumer: map[consumerKey]*ConsumerExposure{}}
	for _, b := range spans {
		if !w.overlaps(b.CreatedAt, b.RemovedAt) {
			continue
		}
		b.Versions = h.versionsFor(b.VersionSelector, b.CreatedAt, b.RemovedAt, w)
		c := cs.get(consumerKey{b.TargetType, b.TargetID})
		c.Bindings = append(c.Bindings, b)
	}

	from, to := w.sqlBounds()
	groups, err := l.accessGroups(ctx, `payload ->> 'secretId' = $1 AND company_id = $2 AND position <= $3 AND`+windowSQL(4),
		id, h.company, head, from, to)
	if err != nil {
		return out, err
	}
	cs.addAccess(groups)

	keys, err := l.agentKeys(ctx, h.company, cs.order, head, w)
	if err != nil {
		return out, err
	}
	out.Consumers = cs.sorted(keys)
	out.Reported, err = l.reportedExposures(ctx, id, h.company, head, w)
	return out, err
}

// secretBindingSpans are the spans of every binding of secret id up to head.
func (l Log) secretBindingSpans(ctx context.Context, id, company string, head int64) ([]BindingSpan, error) {
	created, err := l.readEvents(ctx, `WHERE event_type = $4 AND payload ->> 'secretId' = $1
		AND company_id = $2 AND position <= $3 ORDER BY position`, id, company, head, events.BindingCreated)
	if err != nil {
		return nil, err
	}
	var bindingIDs, streams []string
	for _, e := range created {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		if b, ok := p.(*events.BindingCreatedV1); ok {
			bindingIDs = append(bindingIDs, b.BindingID)
			streams = append(streams, e.StreamID)
		}
	}
	removed, err := l.readEvents(ctx, `WHERE stream_id = ANY($1) AND event_type = $4
		AND payload ->> 'bindingId' = ANY($2) AND position <= $3 ORDER BY position`, streams, bindingIDs, head, events.BindingRemoved)
	if err != nil {
		return nil, err
	}
	return bindingSpans(created, removed)
}

// consumerExposures gathers a secret's exposure per consumer, in the order consumers
// were first seen.
type consumerExposures struct {
	byConsumer map[consumerKey]*ConsumerExposure
	order      []consumerKey
}

func (cs *consumerExposures) get(k consumerKey) *ConsumerExposure {
	c := cs.byConsumer[k]
	if c == nil {
		c = &ConsumerExposure{TargetType: k.targetType, TargetID: k.targetID}
		cs.byConsumer[k] = c
		cs.order = append(cs.order, k)
	}
	return c
}

// addAccess summarises the access groups of each consumer into its reads and failures.
func (cs *consumerExposures) addAccess(groups []accessGroup) {
	perConsumer := map[consumerKey][]accessGroup{}
	for _, g := range groups {
		k := consumerKey{g.targetType, g.targetID}
		cs.get(k)
		perConsumer[k] = append(perConsumer[k], g)
	}
	for k, gs := range perConsumer {
		cs.byConsumer[k].Reads, cs.byConsumer[k].Failures = summarise(gs)
	}
}

// sorted returns the exposures by consumer type and id, each with its agent keys.
func (cs *consumerExposures) sorted(keys map[consumerKey][]AgentKey) []ConsumerExposure {
	order := cs.order
	sort.Slice(order, func(i, j int) bool {
		if order[i].targetType != order[j].targetType {
			return order[i].targetType < order[j].targetType
		}
		return order[i].targetID < order[j].targetID
	})
	var out []ConsumerExposure
	for _, k := range order {
		c := cs.byConsumer[k]
		c.AgentKeys = keys[k]
		if c.Failures == nil {
			c.Failures = []Failures{}
		}
		out = append(out, *c)
	}
	return out
}
