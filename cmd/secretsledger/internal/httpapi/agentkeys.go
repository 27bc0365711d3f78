package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/queries"
)

// AgentKeyCommands is the write side of agent keys.
type AgentKeyCommands interface {
	IssueKey(ctx context.Context, req commands.Request, c commands.IssueAgentKey) (commands.AgentKeyResult, error)
	RevokeKey(ctx context.Context, req commands.Request, keyID string) (commands.AgentKeyResult, error)
	RevokeConsumerKeys(ctx context.Context, req commands.Request, c commands.Consumer) (commands.RevokedKeys, error)
}

// AgentKeyQueries lists agent keys.
type AgentKeyQueries interface {
	AgentKeys(ctx context.Context, a actor.Actor, companyID string, p queries.PageRequest) (queries.Page[queries.AgentKey], error)
}

// AgentKeys serves agent keys: issue, list, revoke one, and revoke every key of a
// consumer at once (an incident control).
type AgentKeys struct {
	Commands AgentKeyCommands
	Queries  AgentKeyQueries
	*gate
}

func (h *AgentKeys) routes(r *mux.Router, g *gate) {
	h.gate = g
	r.HandleFunc("/companies/{companyId}/agent-keys", g.board(h.issueKey)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/agent-keys", g.board(h.agentKeys)).Methods(http.MethodGet)
	r.HandleFunc("/agent-keys/{id}", g.board(h.revokeKey)).Methods(http.MethodDelete)
	r.HandleFunc("/companies/{companyId}/consumers/{targetType}/{targetId}/agent-keys/revoke", g.board(h.revokeConsumerKeys)).
		Methods(http.MethodPost)
}

type issueKeyBody struct {
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	Label      string `json:"label"`
}

func (h *AgentKeys) issueKey(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b issueKeyBody
	req, err := h.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := h.Commands.IssueKey(r.Context(), req, commands.IssueAgentKey{
		Consumer: commands.Consumer{CompanyID: company, TargetType: b.TargetType, TargetID: b.TargetID}, Label: b.Label})
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]string{"id": res.KeyID, "token": res.Token})
	return nil
}

func (h *AgentKeys) agentKeys(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.AgentKey], error) {
		return h.Queries.AgentKeys(r.Context(), a, company, p)
	}, func(k queries.AgentKey) agentKeyOut {
		return agentKeyOut{ID: k.ID, CompanyID: k.CompanyID, TargetType: k.TargetType, TargetID: k.TargetID, Label: k.Label,
			CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
	})
}

type agentKeyOut struct {
	ID         string     `json:"id"`
	CompanyID  string     `json:"companyId"`
	TargetType string     `json:"targetType"`
	TargetID   string     `json:"targetId"`
	Label      string     `json:"label"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

func (h *AgentKeys) revokeKey(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	req, err := h.emptyCommand(r, a)
	if err != nil {
		return err
	}
	res, err := h.Commands.RevokeKey(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (h *AgentKeys) revokeConsumerKeys(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	c, err := consumerOf(r)
	if err != nil {
		return err
	}
	req, err := h.emptyCommand(r, a)
	if err != nil {
		return err
	}
	res, err := h.Commands.RevokeConsumerKeys(r.Context(), req, c)
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusOK, map[string]any{"revoked": len(res.KeyIDs), "keyIds": res.KeyIDs})
	return nil
}
