package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Resolution outcomes of a freeze, checked before any other.
// WARNING: persisted in secret.accessed events.
const (
	CompanyFrozen  = events.OutcomeCompanyFrozen
	ConsumerFrozen = events.OutcomeConsumerFrozen
)

// MaxFreezeReason bounds the reason of a freeze or unfreeze.
const MaxFreezeReason = 500

// freezeState is a freeze as a stream knows it; the zero value is "not frozen". (The
// reason and who froze it are the query side's: resolution needs only the fact.)
type freezeState struct {
	frozen   bool
	position int64 // of the freeze event
}

func frozenAt(e eventstore.Event) freezeState { return freezeState{frozen: true, position: e.Position} }

// companyState is what resolution needs of the company's own stream.
type companyState struct {
	freeze        freezeState
	streamVersion int64
}

func (s *companyState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion = e.StreamVersion
	return companyFold.Apply(s, e, p)
}

// companyFold is what resolution does with each event of a company's stream.
var companyFold = events.Dispatch[*companyState]{
	Name:    "commands: companyState",
	Streams: []string{events.CompanyStreamPrefix},
	Handle: map[string]events.Handler[*companyState]{
		events.CompanyFrozen: events.On(func(s *companyState, e eventstore.Event, _ *events.CompanyFrozenV1) {
			s.freeze = frozenAt(e)
		}),
		events.CompanyUnfrozen: events.On(func(s *companyState, _ eventstore.Event, _ *events.CompanyUnfrozenV1) {
			s.freeze = freezeState{}
		}),
	},
}

// SetFreeze freezes or unfreezes a company (TargetType and TargetID empty) or one of
// its consumers.
type SetFreeze struct {
	Consumer
	Frozen bool
	Reason string
}

// Incidents handles the incident commands: Freeze.
type Incidents struct {
	rt *Runtime
}

// FreezeResult is what a freeze command wrote; Changed is false when the company or
// consumer already was in the asked state (nothing is written then).
type FreezeResult struct {
	Position int64
	Changed  bool
	Replayed bool
}

// Freeze runs SetFreeze. The event is a fact of the stream that resolution folds
// (the company's stream, or the consumer's), and every resolution's access append is
// conditional on the versions of both, so no value leaves after the freeze committed,
// in any process.
func (h *Incidents) Freeze(ctx context.Context, req Request, c SetFreeze) (FreezeResult, error) {
	if req.Actor.Type != actor.Board {
		return FreezeResult{}, ledgererr.New(ledgererr.Forbidden, "freezing is for board tokens")
	}
	company := c.TargetType == "" && c.TargetID == ""
	if company && !req.Actor.CanAccess(c.CompanyID) {
		return FreezeResult{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	if !company {
		if err := checkConsumer(c.Consumer, req.Actor); err != nil {
			return FreezeResult{}, err
		}
	}
	reason := strings.TrimSpace(c.Reason)
	switch {
	case c.Frozen && reason == "":
		return FreezeResult{}, ledgererr.New(ledgererr.Invalid, "a freeze needs a reason")
	case len(reason) > MaxFreezeReason:
		return FreezeResult{}, ledgererr.New(ledgererr.Invalid, "reason is at most %d bytes", MaxFreezeReason)
	}
	if res, ok, err := h.rt.log.Idempotent(ctx, c.CompanyID, req.Idempotency); ok || err != nil {
		return FreezeResult{Position: res.LastPosition, Changed: true, Replayed: ok}, err
	}
	return decideAgain(ctx, h.rt, func(ctx context.Context) (FreezeResult, error) { return h.freezeOnce(ctx, req, c, company, reason) })
}

func (h *Incidents) freezeOnce(ctx context.Context, req Request, c SetFreeze, company bool, reason string) (FreezeResult, error) {
	var stream string
	var version int64
	var current freezeState
	var typ string
	var payload any
	if company {
		st, err := h.rt.loadCompany(ctx, c.CompanyID)
		if err != nil {
			return FreezeResult{}, err
		}
		stream, version, current = events.CompanyStream(c.CompanyID), st.streamVersion, st.freeze
		typ, payload = events.CompanyUnfrozen, events.CompanyUnfrozenV1{Reason: reason}
		if c.Frozen {
			typ, payload = events.CompanyFrozen, events.CompanyFrozenV1{Reason: reason}
		}
	} else {
		st, err := h.rt.loadConsumer(ctx, c.Consumer)
		if err != nil {
			return FreezeResult{}, err
		}
		stream, version, current = c.Stream(), st.streamVersion, st.freeze
		typ, payload = events.ConsumerUnfrozen, events.ConsumerUnfrozenV1{TargetType: c.TargetType, TargetID: c.TargetID, Reason: reason}
		if c.Frozen {
			typ, payload = events.ConsumerFrozen, events.ConsumerFrozenV1{TargetType: c.TargetType, TargetID: c.TargetID, Reason: reason}
		}
	}
	if current.frozen == c.Frozen {
		return FreezeResult{Position: current.position}, nil // the first freeze and its reason stay
	}
	evt, err := events.New(typ, c.CompanyID, payload, req.metadata())
	if err != nil {
		return FreezeResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: stream, Expected: version, Events: []eventstore.EventData{evt},
		Idempotency: req.Idempotency})
	return FreezeResult{Position: res.LastPosition, Changed: err == nil, Replayed: res.Replayed}, err
}

// loadCompany returns the company stream's state from memory (or the log).
func (rt *Runtime) loadCompany(ctx context.Context, companyID string) (companyState, error) {
	return rt.mem.companies.get(ctx, events.CompanyStream(companyID), rt.foldAfter)
}

// loadGate returns the two streams a resolution decides on before it looks at any
// secret: the consumer's (bindings, env, freeze) and the company's (freeze).
func (rt *Runtime) loadGate(ctx context.Context, c Consumer) (consumerState, companyState, error) {
	con, err := rt.loadConsumer(ctx, c)
	if err != nil {
		return con, companyState{}, err
	}
	com, err := rt.loadCompany(ctx, c.CompanyID)
	return con, com, err
}

// gate is the append condition of a resolution's access events: the consumer's and
// the company's streams still at the versions the resolution decided on.
func gate(c Consumer, con consumerState, com companyState) []eventstore.StreamVersion {
	return []eventstore.StreamVersion{{Stream: c.Stream(), Version: con.streamVersion},
		{Stream: events.CompanyStream(c.CompanyID), Version: com.streamVersion}}
}

// frozenOutcome is the outcome of every path of a resolution that a freeze stops, ""
// when none does. The company's freeze wins over the consumer's.
func frozenOutcome(con consumerState, com companyState) string {
	switch {
	case com.freeze.frozen:
		return CompanyFrozen
	case con.freeze.frozen:
		return ConsumerFrozen
	}
	return ""
}
