package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// ConsumerCommands is the write side of bindings, envs, agent keys and resolution.
type ConsumerCommands interface {
	Bind(ctx context.Context, req commands.Request, c commands.CreateBinding) (commands.BindingResult, error)
	Unbind(ctx context.Context, req commands.Request, bindingID string) (commands.BindingResult, error)
	PutEnv(ctx context.Context, req commands.Request, c commands.SetEnv) (commands.BindingResult, error)
	IssueKey(ctx context.Context, req commands.Request, c commands.IssueAgentKey) (commands.AgentKeyResult, error)
	RevokeKey(ctx context.Context, req commands.Request, keyID string) (commands.AgentKeyResult, error)
	ResolveValues(ctx context.Context, req commands.Request, r commands.Resolve) (commands.Resolution, error)
}

// ConsumerQueries is the read side of the same.
type ConsumerQueries interface {
	Bindings(ctx context.Context, a actor.Actor, companyID, targetType, targetID string, p queries.PageRequest) (queries.Page[queries.Binding], error)
	Binding(ctx context.Context, a actor.Actor, id string) (queries.Binding, error)
	Usage(ctx context.Context, a actor.Actor, secretID string, p queries.PageRequest) (queries.Page[queries.Binding], error)
	EnvView(ctx context.Context, a actor.Actor, c events.Consumer, isSensitive func(string) bool) (map[string]queries.EnvEntry, error)
	AccessEvents(ctx context.Context, a actor.Actor, secretID string, p queries.PageRequest) (queries.Page[queries.AccessEvent], error)
	CompanyAccessEvents(ctx context.Context, a actor.Actor, companyID string, f queries.AccessFilter, p queries.PageRequest) (queries.Page[queries.AccessEvent], error)
	AgentKeys(ctx context.Context, a actor.Actor, companyID string, p queries.PageRequest) (queries.Page[queries.AgentKey], error)
}

// Consumers is the bindings, env, agent-key and runtime part of the API.
type Consumers struct {
	Commands ConsumerCommands
	Queries  ConsumerQueries
}

func (s *Secrets) consumerRoutes(r *mux.Router) {
	board, agent := s.board, s.agent
	r.HandleFunc("/companies/{companyId}/secret-bindings", board(s.bind)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secret-bindings", board(s.bindings)).Methods(http.MethodGet)
	r.HandleFunc("/secret-bindings/{id}", board(s.unbind)).Methods(http.MethodDelete)
	r.HandleFunc("/secrets/{id}/usage", board(s.usage)).Methods(http.MethodGet)
	r.HandleFunc("/secrets/{id}/access-events", board(s.accessEvents)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/access-events", board(s.companyAccessEvents)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/consumers/{targetType}/{targetId}/env", board(s.putEnv)).Methods(http.MethodPut)
	r.HandleFunc("/companies/{companyId}/consumers/{targetType}/{targetId}/env", board(s.getEnv)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/agent-keys", board(s.issueKey)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/agent-keys", board(s.agentKeys)).Methods(http.MethodGet)
	r.HandleFunc("/agent-keys/{id}", board(s.revokeKey)).Methods(http.MethodDelete)
	r.HandleFunc("/runtime/resolve", agent(s.resolve)).Methods(http.MethodPost)
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

func (s *Secrets) bind(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b bindBody
	req, err := s.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := s.Consumers.Commands.Bind(r.Context(), req, commands.CreateBinding{
		Consumer: commands.Consumer{CompanyID: company, TargetType: b.TargetType, TargetID: b.TargetID},
		SecretID: b.SecretID, ConfigPath: b.ConfigPath, VersionSelector: string(b.VersionSelector), Required: b.Required, Label: b.Label,
	})
	if err != nil {
		return err
	}
	bd, err := s.Consumers.Queries.Binding(r.Context(), a, res.BindingID)
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusCreated, bindingJSON(bd))
	return nil
}

func (s *Secrets) bindings(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Binding], error) {
		return s.Consumers.Queries.Bindings(r.Context(), a, company, q.Get("targetType"), q.Get("targetId"), p)
	}, bindingJSON)
}

func (s *Secrets) usage(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Binding], error) {
		return s.Consumers.Queries.Usage(r.Context(), a, mux.Vars(r)["id"], p)
	}, bindingJSON)
}

func (s *Secrets) unbind(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	req, err := s.emptyCommand(r, a)
	if err != nil {
		return err
	}
	res, err := s.Consumers.Commands.Unbind(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (s *Secrets) accessEvents(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return listPage(w, r, "before", func(p queries.PageRequest) (queries.Page[queries.AccessEvent], error) {
		return s.Consumers.Queries.AccessEvents(r.Context(), a, mux.Vars(r)["id"], p)
	}, accessJSON)
}

func (s *Secrets) companyAccessEvents(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	f, err := accessFilterOf(r)
	if err != nil {
		return err
	}
	return listPage(w, r, "before", func(p queries.PageRequest) (queries.Page[queries.AccessEvent], error) {
		return s.Consumers.Queries.CompanyAccessEvents(r.Context(), a, company, f, p)
	}, accessJSON)
}

// accessOutcomes are what an access event's outcome filter may name: resolved, failed,
// or why an attempt failed.
var accessOutcomes = []string{"resolved", "failed", "binding_missing", "secret_deleted", "secret_inactive", "version_missing",
	"version_inactive", "provider_error", "company_frozen", "consumer_frozen", "external_prefix_not_approved"}

// accessFilterOf reads the company access events' filters: secretId, consumer
// (targetType/targetId), outcome, from and to (RFC 3339).
func accessFilterOf(r *http.Request) (queries.AccessFilter, error) {
	q := r.URL.Query()
	f := queries.AccessFilter{SecretID: q.Get("secretId"), Consumer: q.Get("consumer"), Outcome: q.Get("outcome")}
	if f.SecretID != "" && !isULID(f.SecretID) {
		return f, ledgererr.New(ledgererr.BadRequest, "secretId must be a secret id (a ULID)")
	}
	if len(f.Consumer) > 2*MaxParamBytes || (f.Consumer != "" && !strings.Contains(f.Consumer, "/")) {
		return f, ledgererr.New(ledgererr.BadRequest, "consumer must be targetType/targetId")
	}
	if f.Outcome != "" && !slices.Contains(accessOutcomes, f.Outcome) {
		return f, ledgererr.New(ledgererr.BadRequest, "outcome must be one of %s", strings.Join(accessOutcomes, ", "))
	}
	var err error
	if f.From, err = timeParam(r, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(r, "to"); err != nil {
		return f, err
	}
	return f, nil
}

func consumerOf(r *http.Request) (commands.Consumer, error) {
	company, err := companyID(r)
	v := mux.Vars(r)
	return commands.Consumer{CompanyID: company, TargetType: v["targetType"], TargetID: v["targetId"]}, err
}

type envEntryBody struct {
	Type     string   `json:"type"`
	Value    *string  `json:"value"`
	SecretID string   `json:"secretId"`
	Version  selector `json:"version"`
}

func (s *Secrets) putEnv(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
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
		if e.Value != nil && *e.Value == queries.RedactedMarker {
			return ledgererr.New(ledgererr.Invalid, "env key %s: the value is the redaction marker, not a value", k)
		}
		env[k] = commands.EnvInput{Type: e.Type, Value: optionalValue(e.Value), SecretID: e.SecretID, Version: string(e.Version)}
	}
	req, err := s.request(r, a, raw)
	if err != nil {
		return err
	}
	res, err := s.Consumers.Commands.PutEnv(r.Context(), req, commands.SetEnv{Consumer: c, Env: env})
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	return s.writeEnv(w, r, a, c)
}

func (s *Secrets) getEnv(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	c, err := consumerOf(r)
	if err != nil {
		return err
	}
	return s.writeEnv(w, r, a, c)
}

func (s *Secrets) writeEnv(w http.ResponseWriter, r *http.Request, a actor.Actor, c commands.Consumer) error {
	view, err := s.Consumers.Queries.EnvView(r.Context(), a, c, commands.IsSensitiveKey)
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

type issueKeyBody struct {
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	Label      string `json:"label"`
}

func (s *Secrets) issueKey(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b issueKeyBody
	req, err := s.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := s.Consumers.Commands.IssueKey(r.Context(), req, commands.IssueAgentKey{
		Consumer: commands.Consumer{CompanyID: company, TargetType: b.TargetType, TargetID: b.TargetID}, Label: b.Label})
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]string{"id": res.KeyID, "token": res.Token})
	return nil
}

func (s *Secrets) agentKeys(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.AgentKey], error) {
		return s.Consumers.Queries.AgentKeys(r.Context(), a, company, p)
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

func (s *Secrets) revokeKey(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	req, err := s.emptyCommand(r, a)
	if err != nil {
		return err
	}
	res, err := s.Consumers.Commands.RevokeKey(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

type resolveBody struct {
	ConfigPaths []string `json:"configPaths"`
	RunID       string   `json:"runId"`
	IssueID     string   `json:"issueId"`
}

// resolve is the one route through which values leave the ledger.
func (s *Secrets) resolve(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	var b resolveBody
	raw, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) > 0 { // an empty body asks for everything
		if _, err := decodeBytes(raw, &b); err != nil {
			return err
		}
	}
	req, err := s.request(r, a, nil)
	if err != nil {
		return err
	}
	res, err := s.Consumers.Commands.ResolveValues(r.Context(), req, commands.Resolve{
		ConfigPaths: b.ConfigPaths, RunID: b.RunID, IssueID: b.IssueID})
	if err != nil {
		return err
	}
	out := resolutionOut{Env: map[string]string{}, Values: map[string]string{}, Manifest: []manifestOut{}}
	for k, v := range res.Env {
		out.Env[k] = string(v.Reveal())
	}
	for k, v := range res.Values {
		out.Values[k] = string(v.Reveal())
	}
	for _, m := range res.Manifest {
		out.Manifest = append(out.Manifest, manifestOut{ConfigPath: m.ConfigPath, EnvKey: m.EnvKey, SecretID: m.SecretID,
			SecretKey: m.SecretKey, Version: m.Version, Provider: m.Provider, Outcome: m.Outcome, Required: m.Required, Source: m.Source,
			ProviderCode: m.ProviderCode})
	}
	setPosition(w, res.Position)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func setPosition(w http.ResponseWriter, pos int64) {
	if pos > 0 {
		w.Header().Set("X-Ledger-Position", strconv.FormatInt(pos, 10))
	}
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
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

type accessOut struct {
	ID         string    `json:"id"`
	Position   int64     `json:"position"`
	SecretID   string    `json:"secretId"`
	Version    *int      `json:"version"`
	ActorType  string    `json:"actorType"`
	ActorID    string    `json:"actorId"`
	Consumer   string    `json:"consumer"`
	ConfigPath string    `json:"configPath"`
	RunID      *string   `json:"runId"`
	IssueID    *string   `json:"issueId"`
	Outcome    string    `json:"outcome"`
	ErrorCode  *string   `json:"errorCode"`
	CreatedAt  time.Time `json:"createdAt"`
	Source     *string   `json:"source"`
}

func accessJSON(e queries.AccessEvent) accessOut {
	return accessOut{ID: e.EventID, Position: e.Position, SecretID: e.SecretID, Version: e.Version, ActorType: e.ActorType,
		ActorID: e.ActorID, Consumer: e.Consumer, ConfigPath: e.ConfigPath, RunID: e.RunID, IssueID: e.IssueID,
		Outcome: e.Outcome, ErrorCode: e.ErrorCode, CreatedAt: e.RecordedAt, Source: e.Source}
}

type envEntryOut struct {
	Type     string  `json:"type"`
	Value    *string `json:"value,omitempty"`
	SecretID string  `json:"secretId,omitempty"`
	Version  string  `json:"version,omitempty"`
}

type manifestOut struct {
	ConfigPath string `json:"configPath"`
	EnvKey     string `json:"envKey,omitempty"`
	SecretID   string `json:"secretId,omitempty"`
	SecretKey  string `json:"secretKey,omitempty"`
	Version    int    `json:"version,omitempty"`
	Provider   string `json:"provider,omitempty"`
	Outcome    string `json:"outcome"`
	Required   bool   `json:"required"`
	Source     string `json:"source,omitempty"`
	// ProviderCode is the provider's code of a provider_error (access_denied, …).
	ProviderCode string `json:"providerCode,omitempty"`
}

type resolutionOut struct {
	Env      map[string]string `json:"env"`
	Values   map[string]string `json:"values"`
	Manifest []manifestOut     `json:"manifest"`
}
