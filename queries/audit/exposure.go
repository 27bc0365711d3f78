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

	created, err := l.readEvents(ctx, `WHERE event_type = $4 AND payload ->> 'secretId' = $1
		AND company_id = $2 AND position <= $3 ORDER BY position`, id, h.company, head, events.BindingCreated)
	if err != nil {
		return out, err
	}
	var bindingIDs, streams []string
	for _, e := range created {
		p, err := events.Decode(e)
		if err != nil {
			return out, err
		}
		if b, ok := p.(*events.BindingCreatedV1); ok {
			bindingIDs = append(bindingIDs, b.BindingID)
			streams = append(streams, e.StreamID)
		}
	}
	removed, err := l.readEvents(ctx, `WHERE stream_id = ANY($1) AND event_type = $4
		AND payload ->> 'bindingId' = ANY($2) AND position <= $3 ORDER BY position`, streams, bindingIDs, head, events.BindingRemoved)
	if err != nil {
		return out, err
	}
	spans, err := bindingSpans(created, removed)
	if err != nil {
		return out, err
	}
	byConsumer := map[consumerKey]*ConsumerExposure{}
	var order []consumerKey
	get := func(k consumerKey) *ConsumerExposure {
		c := byConsumer[k]
		if c == nil {
			c = &ConsumerExposure{TargetType: k.targetType, TargetID: k.targetID}
			byConsumer[k] = c
			order = append(order, k)
		}
		return c
	}
	for _, b := range spans {
		if !w.overlaps(b.CreatedAt, b.RemovedAt) {
			continue
		}
		b.Versions = h.versionsFor(b.VersionSelector, b.CreatedAt, b.RemovedAt, w)
		c := get(consumerKey{b.TargetType, b.TargetID})
		c.Bindings = append(c.Bindings, b)
	}

	from, to := w.sqlBounds()
	groups, err := l.accessGroups(ctx, `payload ->> 'secretId' = $1 AND company_id = $2 AND position <= $3 AND`+windowSQL(4),
		id, h.company, head, from, to)
	if err != nil {
		return out, err
	}
	perConsumer := map[consumerKey][]accessGroup{}
	for _, g := range groups {
		k := consumerKey{g.targetType, g.targetID}
		get(k)
		perConsumer[k] = append(perConsumer[k], g)
	}
	for k, gs := range perConsumer {
		byConsumer[k].Reads, byConsumer[k].Failures = summarise(gs)
	}

	keys, err := l.agentKeys(ctx, h.company, order, head, w)
	if err != nil {
		return out, err
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].targetType != order[j].targetType {
			return order[i].targetType < order[j].targetType
		}
		return order[i].targetID < order[j].targetID
	})
	for _, k := range order {
		c := byConsumer[k]
		c.AgentKeys = keys[k]
		if c.Failures == nil {
			c.Failures = []Failures{}
		}
		out.Consumers = append(out.Consumers, *c)
	}
	return out, nil
}
