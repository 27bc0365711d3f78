package httpapi

import (
	"log/slog"

	"github.com/gorilla/mux"
)

// API is the /api part of the router: the credentials it admits, how it fingerprints
// requests, and one handler per resource, each with only what it uses. The parts of
// Events, Audit and Ledger whose dependencies are nil leave their routes out: the
// router then answers 404, as for any path it does not serve.
type API struct {
	// Auth turns a bearer token (a board token or an agent key) into an actor.
	Auth Authenticator
	// RequestHash fingerprints a request for idempotency; it must be keyed (HMAC), as
	// bodies carry secret values.
	RequestHash func([]byte) []byte
	// Answers and AnswerSeal keep the first answer of each command sent with an
	// Idempotency-Key, sealed, for its retries (replay.go); both or neither.
	Answers    Answers
	AnswerSeal AnswerSeal

	Secrets      Secrets
	RemoteImport RemoteImport
	Providers    Providers
	Consumers    Consumers
	AccessEvents AccessEvents
	AgentKeys    AgentKeys
	Resolution   Resolution
	Changes      Changes
	Incidents    Incidents
	LeakScans    LeakScans
	Policies     Policies
	Vaults       Vaults
	Events       Events
	Audit        Audit
	Ledger       Ledger
}

// resource is one handler of the API: it registers its own routes behind the gate.
type resource interface {
	routes(r *mux.Router, g *gate)
}

// routes registers every resource's routes on r. a is a copy: its handlers get the
// gate, the caller's API stays as it was.
// routes registers the handlers of a itself (not of a copy), so that a test can look at
// their state.
func (a *API) routes(r *mux.Router, log *slog.Logger) {
	g := &gate{auth: a.Auth, requestHash: a.RequestHash, answers: a.Answers, seal: a.AnswerSeal, log: log}
	if a.Answers != nil {
		// Read the document now rather than in the first keyed request; an error is
		// that request's to answer.
		_, _ = idempotentRoutes()
	}
	for _, res := range []resource{&a.Secrets, &a.RemoteImport, &a.Providers, &a.Consumers, &a.AccessEvents, &a.AgentKeys,
		&a.Resolution, &a.Changes, &a.Incidents, &a.LeakScans, &a.Policies, &a.Vaults, &a.Events, &a.Audit, &a.Ledger} {
		res.routes(r, g)
	}
}
