package audit

import (
	"context"
	"sort"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// ConsumerReach answers "what could this consumer read, and what did it read": the
// mirror image of SecretExposure.
type ConsumerReach struct {
	CompanyID, TargetType, TargetID string
	Window                          Window
	// Position is the log position the answer was computed at.
	Position int64
	// Secrets are the secrets the consumer was bound to during the window, or read or
	// tried to read in it.
	Secrets []SecretReach
	// Inline are the reads of the consumer's plain env values (no secret behind them).
	Inline Reads
	// Unbound are attempts at config paths with no binding.
	Unbound []Failures
	// Env is every change of the consumer's env up to Position: keys and types, never
	// values.
	Env       []EnvChange
	AgentKeys []AgentKey
}

// SecretReach is one secret's side of a consumer's reach.
type SecretReach struct {
	SecretID, Name, Key string
	// Status is the secret's whole status history up to the answer's position.
	Status   []StatusChange
	Bindings []BindingSpan
	Reads    Reads
	Failures []Failures
}

// EnvChange is one consumer.env_set: the env's keys from then on.
type EnvChange struct {
	At       time.Time
	Position int64
	Actor    string
	Keys     []EnvKey
}

// EnvKey is one key of an env: its type and, for a secret reference, which secret and
// version selector. Plain values are never shown.
type EnvKey struct {
	Key, Type, SecretID, Version string
}

func envKeys(env map[string]events.EnvEntryV1) []EnvKey {
	out := make([]EnvKey, 0, len(env))
	for k, e := range env {
		out = append(out, EnvKey{Key: k, Type: e.Type, SecretID: e.SecretID, Version: e.Version})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// consumerReachFold is what ConsumerReach gathers from a consumer's stream: the
// binding events (bindingSpans pairs them) and the env changes.
type consumerReachFold struct {
	created, removed []eventstore.Event
	env              []EnvChange
}

// consumerReachTable is what ConsumerReach does with each event of a consumer's stream.
var consumerReachTable = events.Dispatch[*consumerReachFold]{
	Name:    "queries/audit: consumerReach",
	Streams: []string{events.ConsumerStreamPrefix},
	Handle: map[string]events.Handler[*consumerReachFold]{
		events.BindingCreated: func(f *consumerReachFold, e eventstore.Event, _ any) error {
			f.created = append(f.created, e)
			return nil
		},
		events.BindingRemoved: func(f *consumerReachFold, e eventstore.Event, _ any) error {
			f.removed = append(f.removed, e)
			return nil
		},
		events.ConsumerEnvSet: events.On(func(f *consumerReachFold, e eventstore.Event, p *events.ConsumerEnvSetV1) {
			f.env = append(f.env, EnvChange{At: e.RecordedAt, Position: e.Position, Actor: actorOf(e.Metadata), Keys: envKeys(p.Env)})
		}),
	},
	// A consumer's freezes are answered by its freeze route, not by its reach.
	Ignore: []string{events.ConsumerFrozen, events.ConsumerUnfrozen},
}

// ConsumerReach folds what consumer targetType/targetID of company could read during
// the window. A company the actor may not see is not found; a consumer with no events
// answers empty.
func (l Log) ConsumerReach(ctx context.Context, a actor.Actor, company, targetType, targetID string, w Window) (ConsumerReach, error) {
	if err := w.Validate(); err != nil {
		return ConsumerReach{}, err
	}
	if err := requireBoard(a, company); err != nil {
		return ConsumerReach{}, err
	}
	head, err := l.head(ctx)
	if err != nil {
		return ConsumerReach{}, err
	}
	out := ConsumerReach{CompanyID: company, TargetType: targetType, TargetID: targetID, Window: w, Position: head,
		Unbound: []Failures{}, Env: []EnvChange{}}
	spans, err := l.readConsumerStream(ctx, &out, head)
	if err != nil {
		return out, err
	}
	from, to := w.sqlBounds()
	groups, err := l.accessGroups(ctx, `stream_id = $1 AND position <= $2 AND`+windowSQL(3),
		events.AccessStream(company, targetType, targetID), head, from, to)
	if err != nil {
		return out, err
	}

	rs := secretReaches{bySecret: map[string]*SecretReach{}}
	for _, b := range spans {
		if w.overlaps(b.CreatedAt, b.RemovedAt) {
			r := rs.get(b.SecretID)
			r.Bindings = append(r.Bindings, b)
		}
	}
	rs.addAccess(&out, groups)

	histories, err := l.readSecrets(ctx, rs.ids, head)
	if err != nil {
		return out, err
	}
	out.Secrets = rs.sorted(histories, w)
	keys, err := l.agentKeys(ctx, company, []consumerKey{{targetType, targetID}}, head, w)
	if err != nil {
		return out, err
	}
	out.AgentKeys = keys[consumerKey{targetType, targetID}]
	return out, nil
}

// readConsumerStream reads the consumer's stream up to head: its env changes go into
// out.Env, its bindings come back as spans.
func (l Log) readConsumerStream(ctx context.Context, out *ConsumerReach, head int64) ([]BindingSpan, error) {
	evs, err := l.readEvents(ctx, `WHERE stream_id = $1 AND position <= $2 ORDER BY position`,
		events.ConsumerStream(out.CompanyID, out.TargetType, out.TargetID), head)
	if err != nil {
		return nil, err
	}
	var f consumerReachFold
	for _, e := range evs {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		if err := consumerReachTable.Apply(&f, e, p); err != nil {
			return nil, err
		}
	}
	out.Env = append(out.Env, f.env...)
	return bindingSpans(f.created, f.removed)
}

// secretReaches gathers a consumer's reach per secret, in the order secrets were first
// seen.
type secretReaches struct {
	bySecret map[string]*SecretReach
	ids      []string
}

func (rs *secretReaches) get(id string) *SecretReach {
	r := rs.bySecret[id]
	if r == nil {
		r = &SecretReach{SecretID: id, Failures: []Failures{}}
		rs.bySecret[id] = r
		rs.ids = append(rs.ids, id)
	}
	return r
}

// addAccess summarises the access groups: per secret into its reads and failures,
// reads of plain env values into out.Inline, attempts at unbound paths into
// out.Unbound.
func (rs *secretReaches) addAccess(out *ConsumerReach, groups []accessGroup) {
	perSecret := map[string][]accessGroup{}
	var inline, unbound []accessGroup
	for _, g := range groups {
		switch {
		case g.secretID != "":
			rs.get(g.secretID)
			perSecret[g.secretID] = append(perSecret[g.secretID], g)
		case g.outcome == events.OutcomeResolved || g.source == "inline":
			inline = append(inline, g)
		default:
			unbound = append(unbound, g)
		}
	}
	for id, gs := range perSecret {
		rs.bySecret[id].Reads, rs.bySecret[id].Failures = summarise(gs)
	}
	out.Inline, _ = summarise(inline)
	_, out.Unbound = summarise(unbound)
	if out.Unbound == nil {
		out.Unbound = []Failures{}
	}
}

// sorted returns the reaches by secret id, each with its name, key, status and the
// versions its bindings resolved to.
func (rs *secretReaches) sorted(histories map[string]*secretHistory, w Window) []SecretReach {
	sort.Strings(rs.ids)
	var out []SecretReach
	for _, id := range rs.ids {
		r := rs.bySecret[id]
		if h := histories[id]; h != nil {
			r.Name, r.Key, r.Status = h.name, h.key, h.status
			for i, b := range r.Bindings {
				r.Bindings[i].Versions = h.versionsFor(b.VersionSelector, b.CreatedAt, b.RemovedAt, w)
			}
		}
		out = append(out, *r)
	}
	return out
}
