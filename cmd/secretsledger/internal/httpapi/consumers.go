package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// ConsumerCommands is the write side of bindings and consumer envs.
type ConsumerCommands interface {
	Bind(ctx context.Context, req commands.Request, c commands.CreateBinding) (commands.BindingResult, error)
	Unbind(ctx context.Context, req commands.Request, bindingID string) (commands.BindingResult, error)
	PutEnv(ctx context.Context, req commands.Request, c commands.SetEnv) (commands.BindingResult, error)
}

// ConsumerQueries is the read side of the same.
type ConsumerQueries interface {
	Bindings(ctx context.Context, a actor.Actor, companyID, targetType, targetID string, p queries.PageRequest) (queries.Page[queries.Binding], error)
	Binding(ctx context.Context, a actor.Actor, id string) (queries.Binding, error)
	Usage(ctx context.Context, a actor.Actor, secretID string, p queries.PageRequest) (queries.Page[queries.Binding], error)
	EnvView(ctx context.Context, a actor.Actor, c events.Consumer, isSensitive func(string) bool) (map[string]queries.EnvEntry, error)
}

// Consumers serves what consumers (agents, projects, …) get: bindings of secrets to
// their config paths, a secret's usage, and their envs.
type Consumers struct {
	Commands ConsumerCommands
	Queries  ConsumerQueries
	*gate
}

func (h *Consumers) routes(r *mux.Router, g *gate) {
	h.gate = g
	const env = "/companies/{companyId}/consumers/{targetType}/{targetId}/env"
	r.HandleFunc("/companies/{companyId}/secret-bindings", g.board(h.bind)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secret-bindings", g.board(h.bindings)).Methods(http.MethodGet)
	r.HandleFunc("/secret-bindings/{id}", g.board(h.unbind)).Methods(http.MethodDelete)
	r.HandleFunc("/secrets/{id}/usage", g.board(h.usage)).Methods(http.MethodGet)
	r.HandleFunc(env, g.board(h.putEnv)).Methods(http.MethodPut)
	r.HandleFunc(env, g.board(h.getEnv)).Methods(http.MethodGet)
}

// selector accepts a JSON "latest" or a number, as clients send versions.
type selector string

func (v *selector) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*v = selector(strconv.Itoa(n))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*v = selector(s)
	return nil
}

type bindBody struct {
	SecretID        string   `json:"secretId"`
	TargetType      string   `json:"targetType"`
	TargetID        string   `json:"targetId"`
	ConfigPath      string   `json:"configPath"`
	VersionSelector selector `json:"versionSelector"`
	Required        *bool    `json:"required"`
	Label           string   `json:"label"`
}

func (h *Consumers) bind(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b bindBody
	req, err := h.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := h.Commands.Bind(r.Context(), req, commands.CreateBinding{
		Consumer: commands.Consumer{CompanyID: company, TargetType: b.TargetType, TargetID: b.TargetID},
		SecretID: b.SecretID, ConfigPath: b.ConfigPath, VersionSelector: string(b.VersionSelector), Required: b.Required, Label: b.Label,
	})
	if err != nil {
		return err
	}
	bd, err := h.Queries.Binding(r.Context(), a, res.BindingID)
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusCreated, bindingJSON(bd))
	return nil
}

func (h *Consumers) bindings(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Binding], error) {
		return h.Queries.Bindings(r.Context(), a, company, q.Get("targetType"), q.Get("targetId"), p)
	}, bindingJSON)
}

func (h *Consumers) usage(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Binding], error) {
		return h.Queries.Usage(r.Context(), a, mux.Vars(r)["id"], p)
	}, bindingJSON)
}

func (h *Consumers) unbind(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	req, err := h.emptyCommand(r, a)
	if err != nil {
		return err
	}
	res, err := h.Commands.Unbind(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

type envEntryBody struct {
	Type     string   `json:"type"`
	Value    *string  `json:"value"`
	SecretID string   `json:"secretId"`
	Version  selector `json:"version"`
}

func (h *Consumers) putEnv(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	c, err := consumerOf(r)
	if err != nil {
		return err
	}
	var b struct {
		Env *map[string]envEntryBody `json:"env"`
	}
	raw, err := decode(r, &b)
	if err != nil {
		return err
	}
	// PUT replaces the whole env: a body that forgot it must not clear it.
	if b.Env == nil || *b.Env == nil {
		return ledgererr.New(ledgererr.BadRequest, `the body needs an "env" object (send {"env": {}} to clear the env)`)
	}
	env := make(map[string]commands.EnvInput, len(*b.Env))
	for k, e := range *b.Env {
		if e.Value != nil && *e.Value == events.RedactedMarker {
			return ledgererr.New(ledgererr.Invalid, "env key %s: the value is the redaction marker, not a value", k)
		}
		env[k] = commands.EnvInput{Type: e.Type, Value: optionalValue(e.Value), SecretID: e.SecretID, Version: string(e.Version)}
	}
	req, err := h.request(r, a, raw)
	if err != nil {
		return err
	}
	res, err := h.Commands.PutEnv(r.Context(), req, commands.SetEnv{Consumer: c, Env: env})
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	return h.writeEnv(w, r, a, c)
}

func (h *Consumers) getEnv(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	c, err := consumerOf(r)
	if err != nil {
		return err
	}
	return h.writeEnv(w, r, a, c)
}

func (h *Consumers) writeEnv(w http.ResponseWriter, r *http.Request, a actor.Actor, c commands.Consumer) error {
	view, err := h.Queries.EnvView(r.Context(), a, c, commands.IsSensitiveKey)
	if err != nil {
		return err
	}
	out := make(map[string]envEntryOut, len(view))
	for k, e := range view {
		out[k] = envEntryOut{Type: e.Type, Value: e.Value, SecretID: e.SecretID, Version: e.Version}
	}
	writeJSON(w, http.StatusOK, map[string]any{"env": out})
	return nil
}

type bindingOut struct {
	ID              string    `json:"id"`
	CompanyID       string    `json:"companyId"`
	SecretID        string    `json:"secretId"`
	TargetType      string    `json:"targetType"`
	TargetID        string    `json:"targetId"`
	ConfigPath      string    `json:"configPath"`
	VersionSelector any       `json:"versionSelector"`
	Required        bool      `json:"required"`
	Label           string    `json:"label"`
	CreatedBy       string    `json:"createdBy"`
	CreatedAt       time.Time `json:"createdAt"`
}

func bindingJSON(b queries.Binding) bindingOut {
	var sel any = b.VersionSelector
	if n, err := strconv.Atoi(b.VersionSelector); err == nil {
		sel = n
	}
	return bindingOut{ID: b.ID, CompanyID: b.CompanyID, SecretID: b.SecretID, TargetType: b.TargetType, TargetID: b.TargetID,
		ConfigPath: b.ConfigPath, VersionSelector: sel, Required: b.Required, Label: b.Label, CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt}
}

type envEntryOut struct {
	Type     string  `json:"type"`
	Value    *string `json:"value,omitempty"`
	SecretID string  `json:"secretId,omitempty"`
	Version  string  `json:"version,omitempty"`
}
