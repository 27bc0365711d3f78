package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

// Providers serves the providers a company may put secrets in, and their health.
type Providers struct {
	// Instances are the deployment's provider instances.
	Instances []providers.Provider
	// VaultsOnly describes the providers configured for the companies' vaults that have
	// no deployment instance (vault with a Vault session, another default provider):
	// listed ready, and no longer as coming soon.
	VaultsOnly []providers.Descriptor
}

func (ps *Providers) routes(r *mux.Router, g *gate) {
	r.HandleFunc("/companies/{companyId}/secret-providers", g.board(ps.list)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/secret-providers/health", g.board(ps.health)).Methods(http.MethodGet)
}

func (ps *Providers) list(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	if err := companyVisible(r, a); err != nil {
		return err
	}
	// A handful of providers: always one page. The deployment's instances come first,
	// then the providers of vaults only, then those coming soon that are neither.
	all := make([]providers.Descriptor, 0, len(ps.Instances)+len(ps.VaultsOnly)+2)
	listed := map[string]bool{}
	for _, p := range ps.Instances {
		d := p.Descriptor()
		all, listed[d.ID] = append(all, d), true
	}
	for _, d := range ps.VaultsOnly {
		if !listed[d.ID] {
			all, listed[d.ID] = append(all, d), true
		}
	}
	for _, d := range providers.ComingSoon() {
		if !listed[d.ID] {
			all = append(all, d)
		}
	}
	writePage(w, queries.Page[providers.Descriptor]{Items: all}, func(d providers.Descriptor) providerOut {
		status := "ready"
		if d.ComingSoon {
			status = "coming_soon"
		}
		return providerOut{ID: d.ID, Label: d.Label, SupportsManagedValues: d.SupportsManagedValues,
			SupportsExternalReferences: d.SupportsExternalReferences, Configured: d.Configured, Status: status}
	})
	return nil
}

func (ps *Providers) health(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	if err := companyVisible(r, a); err != nil {
		return err
	}
	writePage(w, queries.Page[providers.Provider]{Items: ps.Instances}, func(p providers.Provider) healthOut {
		h := p.Health(r.Context())
		findings := h.Findings
		if instanceWide(a) {
			findings = h.All()
		}
		if findings == nil {
			findings = []string{}
		}
		return healthOut{Provider: h.Provider, OK: h.OK, Findings: findings}
	})
	return nil
}

func companyVisible(r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	if !a.CanAccess(company) {
		return ledgererr.New(ledgererr.NotFound, "company not found")
	}
	return nil
}

type providerOut struct {
	ID                         string `json:"id"`
	Label                      string `json:"label"`
	SupportsManagedValues      bool   `json:"supportsManagedValues"`
	SupportsExternalReferences bool   `json:"supportsExternalReferences"`
	Configured                 bool   `json:"configured"`
	Status                     string `json:"status"` // ready | coming_soon
}

type healthOut struct {
	Provider string   `json:"provider"`
	OK       bool     `json:"ok"`
	Findings []string `json:"findings"`
}
