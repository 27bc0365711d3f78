package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/queries"
)

// IncidentCommands is the write side of incident controls.
type IncidentCommands interface {
	Freeze(ctx context.Context, req commands.Request, c commands.SetFreeze) (commands.FreezeResult, error)
}

// FreezeQueries reads freezes.
type FreezeQueries interface {
	Company(ctx context.Context, a actor.Actor, companyID string) (queries.Freeze, error)
	Consumer(ctx context.Context, a actor.Actor, c events.Consumer) (queries.Freeze, error)
}

// Incidents serves the freezes of a company or of one consumer, which stop
// resolution until lifted.
type Incidents struct {
	Commands IncidentCommands
	Queries  FreezeQueries
	*gate
}

func (h *Incidents) routes(r *mux.Router, g *gate) {
	h.gate = g
	const consumer = "/companies/{companyId}/consumers/{targetType}/{targetId}"
	r.HandleFunc("/companies/{companyId}/freeze", g.board(h.freeze(true))).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/unfreeze", g.board(h.freeze(false))).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/freeze", g.board(h.getFreeze)).Methods(http.MethodGet)
	r.HandleFunc(consumer+"/freeze", g.board(h.freeze(true))).Methods(http.MethodPost)
	r.HandleFunc(consumer+"/unfreeze", g.board(h.freeze(false))).Methods(http.MethodPost)
	r.HandleFunc(consumer+"/freeze", g.board(h.getFreeze)).Methods(http.MethodGet)
}

type freezeOut struct {
	Frozen   bool       `json:"frozen"`
	Reason   *string    `json:"reason"`
	FrozenAt *time.Time `json:"frozenAt"`
	FrozenBy *string    `json:"frozenBy"`
	Position int64      `json:"position"`
}

func (h *Incidents) freeze(frozen bool) handler {
	return func(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
		c, err := consumerOf(r) // a company's path leaves the target empty
		if err != nil {
			return err
		}
		var b struct {
			Reason string `json:"reason"`
		}
		req, err := h.decodeOptionalCommand(r, a, &b)
		if err != nil {
			return err
		}
		res, err := h.Commands.Freeze(r.Context(), req, commands.SetFreeze{Consumer: c, Frozen: frozen, Reason: b.Reason})
		if err != nil {
			return err
		}
		if res.Changed {
			setPosition(w, res.Position)
		}
		if res.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		return h.writeFreeze(w, r, a, c)
	}
}

func (h *Incidents) getFreeze(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	c, err := consumerOf(r)
	if err != nil {
		return err
	}
	return h.writeFreeze(w, r, a, c)
}

// writeFreeze answers the freeze as the log holds it now.
func (h *Incidents) writeFreeze(w http.ResponseWriter, r *http.Request, a actor.Actor, c commands.Consumer) error {
	var f queries.Freeze
	var err error
	if c.TargetType == "" && c.TargetID == "" {
		f, err = h.Queries.Company(r.Context(), a, c.CompanyID)
	} else {
		f, err = h.Queries.Consumer(r.Context(), a, c)
	}
	if err != nil {
		return err
	}
	out := freezeOut{Frozen: f.Frozen, Position: f.Position}
	if f.Frozen {
		out.Reason, out.FrozenAt, out.FrozenBy = &f.Reason, f.At, &f.By
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
