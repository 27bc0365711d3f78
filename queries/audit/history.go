package audit

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// secretHistory is one secret folded from its stream.
type secretHistory struct {
	id, company, name, key, provider string
	createdAt                        time.Time
	status                           []StatusChange
	versions                         []VersionSpan
}

func (h *secretHistory) currentStatus() string {
	if len(h.status) == 0 {
		return ""
	}
	return h.status[len(h.status)-1].Status
}

// apply folds one event of the secret's stream.
func (h *secretHistory) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	return secretHistoryFold.Apply(h, e, p)
}

// change records a status the secret had from e on.
func (h *secretHistory) change(e eventstore.Event, status string) {
	h.status = append(h.status, StatusChange{Status: status, At: e.RecordedAt, Position: e.Position, Actor: actorOf(e.Metadata)})
}

// secretHistoryFold is what a secret's history does with each event of its stream.
var secretHistoryFold = events.Dispatch[*secretHistory]{
	Name:    "queries/audit: secretHistory",
	Streams: []string{events.SecretStreamPrefix},
	Handle: map[string]events.Handler[*secretHistory]{
		events.SecretCreated: events.On(func(h *secretHistory, e eventstore.Event, p *events.SecretCreatedV1) {
			h.id, h.company, h.name, h.key, h.provider, h.createdAt = p.SecretID, e.CompanyID, p.Name, p.Key, p.Provider, e.RecordedAt
			h.change(e, "active")
			h.versions = append(h.versions, VersionSpan{Version: 1, From: e.RecordedAt, Position: e.Position})
		}),
		events.SecretVersionAdded: events.On(func(h *secretHistory, e eventstore.Event, p *events.SecretVersionAddedV1) {
			if n := len(h.versions); n > 0 {
				at := e.RecordedAt
				h.versions[n-1].To = &at
			}
			h.versions = append(h.versions, VersionSpan{Version: p.Version, From: e.RecordedAt, Position: e.Position})
		}),
		events.SecretUpdated: events.On(func(h *secretHistory, e eventstore.Event, p *events.SecretUpdatedV1) {
			if p.Name != nil {
				h.name = *p.Name
			}
			if p.Key != nil {
				h.key = *p.Key
			}
			if p.Status != nil {
				h.change(e, *p.Status)
			}
		}),
		events.SecretDeleted: events.On(func(h *secretHistory, e eventstore.Event, _ *events.SecretDeletedV1) {
			h.change(e, "deleted")
		}),
		events.SecretRestored: events.On(func(h *secretHistory, e eventstore.Event, p *events.SecretRestoredV1) {
			h.change(e, p.Status)
		}),
		events.SecretPurged: events.On(func(h *secretHistory, e eventstore.Event, _ *events.SecretPurgedV1) {
			h.change(e, "purged")
		}),
	},
}

// versionsFor returns the versions a binding with selector meant while it existed
// ([start, end)), clipped to the window.
func (h *secretHistory) versionsFor(selector string, start time.Time, end *time.Time, w Window) []VersionSpan {
	start, end = w.clip(start, end)
	if n, err := strconv.Atoi(selector); err == nil {
		return []VersionSpan{{Version: n, From: start, To: end}}
	}
	var out []VersionSpan
	for _, v := range h.versions {
		// The span [v.From, v.To) meets [start, end)?
		if (end != nil && !v.From.Before(*end)) || (v.To != nil && !v.To.After(start)) {
			continue
		}
		s := v
		if s.From.Before(start) {
			s.From = start
		}
		if end != nil && (s.To == nil || s.To.After(*end)) {
			to := *end
			s.To = &to
		}
		out = append(out, s)
	}
	return out
}

// readSecrets folds the streams of the given secrets up to head.
func (l Log) readSecrets(ctx context.Context, ids []string, head int64) (map[string]*secretHistory, error) {
	streams := make([]string, len(ids))
	for i, id := range ids {
		streams[i] = events.SecretStream(id)
	}
	evs, err := l.readEvents(ctx, `WHERE stream_id = ANY($1) AND position <= $2 ORDER BY position`, streams, head)
	if err != nil {
		return nil, err
	}
	out := map[string]*secretHistory{}
	for _, e := range evs {
		id := strings.TrimPrefix(e.StreamID, events.SecretStreamPrefix)
		h := out[id]
		if h == nil {
			h = &secretHistory{id: id}
			out[id] = h
		}
		if err := h.apply(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// consumerKey names a consumer within a company.
type consumerKey struct{ targetType, targetID string }

// bindingSpans turns binding.created events and the removals among removed into spans.
func bindingSpans(created, removed []eventstore.Event) ([]BindingSpan, error) {
	gone := map[string]eventstore.Event{}
	for _, e := range removed {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		if r, ok := p.(*events.BindingRemovedV1); ok {
			gone[r.BindingID] = e
		}
	}
	var out []BindingSpan
	for _, e := range created {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		c, ok := p.(*events.BindingCreatedV1)
		if !ok {
			continue
		}
		b := BindingSpan{BindingID: c.BindingID, SecretID: c.SecretID, TargetType: c.TargetType, TargetID: c.TargetID,
			ConfigPath: c.ConfigPath, VersionSelector: c.VersionSelector, CreatedAt: e.RecordedAt, CreatedPosition: e.Position,
			CreatedBy: actorOf(e.Metadata)}
		if r, ok := gone[c.BindingID]; ok {
			at := r.RecordedAt
			b.RemovedAt, b.RemovedPosition, b.RemovedBy = &at, r.Position, actorOf(r.Metadata)
		}
		out = append(out, b)
	}
	return out, nil
}

// agentKeys returns the agent keys of each consumer up to head, with their revocations.
func (l Log) agentKeys(ctx context.Context, company string, consumers []consumerKey, head int64, w Window) (map[consumerKey][]AgentKey, error) {
	out := map[consumerKey][]AgentKey{}
	var issued []eventstore.Event
	for _, c := range consumers {
		evs, err := l.readEvents(ctx, `WHERE event_type = $5 AND company_id = $1
			AND payload ->> 'targetType' = $2 AND payload ->> 'targetId' = $3 AND position <= $4 ORDER BY position`,
			company, c.targetType, c.targetID, head, events.AgentKeyIssued)
		if err != nil {
			return nil, err
		}
		issued = append(issued, evs...)
	}
	if len(issued) == 0 {
		return out, nil
	}
	streams := make([]string, 0, len(issued))
	keys := make([]AgentKey, 0, len(issued))
	for _, e := range issued {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		k, ok := p.(*events.AgentKeyIssuedV2)
		if !ok {
			continue
		}
		streams = append(streams, events.AgentKeyStream(k.KeyID))
		keys = append(keys, AgentKey{KeyID: k.KeyID, TargetType: k.TargetType, TargetID: k.TargetID, Label: k.Label,
			IssuedAt: e.RecordedAt, IssuedBy: actorOf(e.Metadata)})
	}
	revoked, err := l.readEvents(ctx, `WHERE stream_id = ANY($1) AND event_type = $3 AND position <= $2
		ORDER BY position`, streams, head, events.AgentKeyRevoked)
	if err != nil {
		return nil, err
	}
	at := map[string]eventstore.Event{}
	for _, e := range revoked {
		id := strings.TrimPrefix(e.StreamID, events.AgentKeyStreamPrefix)
		if _, seen := at[id]; !seen {
			at[id] = e
		}
	}
	for _, k := range keys {
		if r, ok := at[k.KeyID]; ok {
			t := r.RecordedAt
			k.RevokedAt, k.RevokedBy = &t, actorOf(r.Metadata)
		}
		k.ActiveInWindow = w.overlaps(k.IssuedAt, k.RevokedAt)
		c := consumerKey{k.TargetType, k.TargetID}
		out[c] = append(out[c], k)
	}
	return out, nil
}
