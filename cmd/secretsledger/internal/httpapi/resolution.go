package httpapi

import (
	"bytes"
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// ResolveCommands is the write side of resolution: it records every attempt.
type ResolveCommands interface {
	ResolveValues(ctx context.Context, req commands.Request, r commands.Resolve) (commands.Resolution, error)
}

// Resolution serves the runtime: agents resolve the values bound to them, and have a
// text masked of those values (redact.go).
type Resolution struct {
	Commands ResolveCommands
	*gate
}

func (h *Resolution) routes(r *mux.Router, g *gate) {
	h.gate = g
	r.HandleFunc("/runtime/resolve", g.agent(h.resolve)).Methods(http.MethodPost)
	r.HandleFunc("/runtime/redact", g.agent(h.redactText)).Methods(http.MethodPost)
}

type resolveBody struct {
	ConfigPaths []string `json:"configPaths"`
	RunID       string   `json:"runId"`
	IssueID     string   `json:"issueId"`
}

// resolve is the one route through which values leave the ledger.
func (h *Resolution) resolve(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
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
	// No Idempotency-Key: every attempt is recorded and decided on the state of now (a
	// freeze, an unbind or a revocation since the first attempt must hold), so a retry
	// resolves again rather than being answered values from before.
	req := commands.Request{Actor: a, RequestID: requestIDOf(r)}
	res, err := h.Commands.ResolveValues(r.Context(), req, commands.Resolve{
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
