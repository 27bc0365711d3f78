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

// PolicyCommands is the write side of external-reference policies.
type PolicyCommands interface {
	SetPolicy(ctx context.Context, req commands.Request, c commands.SetExternalPolicy) (commands.PolicyResult, error)
}

// PolicyQueries reads external-reference policies.
type PolicyQueries interface {
	Company(ctx context.Context, a actor.Actor, companyID string) (queries.ExternalPolicy, error)
}

// Policies serves a company's external-reference policy: any board token that can
// access the company reads it; only an instance-wide board token sets it.
type Policies struct {
	Commands PolicyCommands
	Queries  PolicyQueries
	// InstancePrefixes are the prefixes LEDGER_AWS_EXTERNAL_PREFIXES approves for every
	// company's aws_secrets_manager references, shown beside the company's own;
	// InstanceVaultPrefixes, LEDGER_VAULT_EXTERNAL_PREFIXES, the same for vault references.
	InstancePrefixes, InstanceVaultPrefixes []string
	*gate
}

func (h *Policies) routes(r *mux.Router, g *gate) {
	h.gate = g
	r.HandleFunc("/companies/{companyId}/external-policy", g.board(h.getPolicy)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/external-policy", g.board(h.setPolicy)).Methods(http.MethodPut)
}

// policyLists are the lists of a policy as the API shows and takes them.
type policyLists struct {
	Prefixes   []string `json:"prefixes"`
	References []string `json:"references"`
	Regions    []string `json:"regions"`
	Namespaces []string `json:"namespaces"`
}

func listsJSON(prefixes, references, regions, namespaces []string) policyLists {
	return policyLists{Prefixes: orNone(prefixes), References: orNone(references), Regions: orNone(regions),
		Namespaces: orNone(namespaces)}
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type policyOut struct {
	CompanyID string `json:"companyId"`
	Set       bool   `json:"set"`
	policyLists
	InstancePrefixes      []string   `json:"instancePrefixes"`
	InstanceVaultPrefixes []string   `json:"instanceVaultPrefixes"`
	Version               int64      `json:"version"`
	SetAt                 *time.Time `json:"setAt"`
	SetBy                 *string    `json:"setBy"`
	Position              int64      `json:"position"`
}

type policyBody struct {
	policyLists
	// Version, when given, must be the policy's current version (0: never set).
	Version *int64 `json:"version"`
}

func (h *Policies) setPolicy(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b policyBody
	req, err := h.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := h.Commands.SetPolicy(r.Context(), req, commands.SetExternalPolicy{CompanyID: company, Version: b.Version,
		Policy: commands.ExternalPolicy{Prefixes: b.Prefixes, References: b.References, Regions: b.Regions, Namespaces: b.Namespaces}})
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return h.writePolicy(w, r, a, company)
}

func (h *Policies) getPolicy(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	return h.writePolicy(w, r, a, company)
}

// writePolicy answers the policy as the log holds it now.
func (h *Policies) writePolicy(w http.ResponseWriter, r *http.Request, a actor.Actor, company string) error {
	p, err := h.Queries.Company(r.Context(), a, company)
	if err != nil {
		return err
	}
	out := policyOut{CompanyID: company, Set: p.Set, policyLists: listsJSON(p.Prefixes, p.References, p.Regions, p.Namespaces),
		InstancePrefixes: orNone(h.InstancePrefixes), InstanceVaultPrefixes: orNone(h.InstanceVaultPrefixes), Version: p.Version,
		Position: p.Position}
	if p.Set {
		out.SetAt, out.SetBy = p.At, &p.By
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
