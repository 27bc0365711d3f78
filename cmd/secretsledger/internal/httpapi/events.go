package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/queries"
)

// EventSubscribers issues and revokes NATS credentials for one company's events.
type EventSubscribers interface {
	Issue(ctx context.Context, req commands.Request, companyID, label string) (natsbus.SubscriberCredentials, error)
	Revoke(ctx context.Context, req commands.Request, companyID, id string) error
}

// EventReader reads a company's events from the log.
type EventReader interface {
	Company(ctx context.Context, a actor.Actor, companyID string, p queries.PageRequest) (queries.Page[eventstore.Event], error)
}

// Events serves a company's events: NATS subscriber credentials, and the log's
// envelopes over HTTP.
type Events struct {
	// Subscribers is nil when subscriber credentials cannot be issued; its routes are
	// then left out.
	Subscribers EventSubscribers
	// Reader, when nil, leaves out GET …/events.
	Reader EventReader
	// Sealed, when set, waits for the sealer before GET …/events (see SealedFirst).
	Sealed SealedFirst
	*gate
}

func (h *Events) routes(r *mux.Router, g *gate) {
	h.gate = g
	if h.Subscribers != nil {
		r.HandleFunc("/companies/{companyId}/event-subscribers", g.board(h.issueSubscriber)).Methods(http.MethodPost)
		r.HandleFunc("/companies/{companyId}/event-subscribers/{id}", g.board(h.revokeSubscriber)).Methods(http.MethodDelete)
	}
	if h.Reader != nil {
		r.HandleFunc("/companies/{companyId}/events", g.board(h.Sealed.first(h.companyEvents))).Methods(http.MethodGet)
	}
}

func (h *Events) issueSubscriber(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b struct {
		Label string `json:"label"`
	}
	req, err := h.decodeOptionalCommand(r, a, &b)
	if err != nil {
		return err
	}
	creds, err := h.Subscribers.Issue(r.Context(), req, company, b.Label)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, creds)
	return nil
}

func (h *Events) revokeSubscriber(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	req, err := h.emptyCommand(r, a)
	if err != nil {
		return err
	}
	if err := h.Subscribers.Revoke(r.Context(), req, company, mux.Vars(r)["id"]); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (h *Events) companyEvents(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	return listPage(w, r, "after", func(p queries.PageRequest) (queries.Page[eventstore.Event], error) {
		return h.Reader.Company(r.Context(), a, company, p)
	}, natsbus.EnvelopeOf)
}
