package commands

import (
	"context"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Placement is where a new secret's material lives: a provider, and the company's
// vault of it (VaultID "" is the deployment's default instance of the provider).
type Placement struct {
	ProviderID string
	VaultID    string
	Provider   providers.Provider
}

// Placer places new secrets in a company's provider vaults and finds the provider
// instance that holds an existing secret. The ledger's wiring implements it over the
// vaults read model; without it, every secret lives in the deployment's instance of its
// provider (Config.Providers).
type Placer interface {
	// Place picks where a new secret of company goes: vaultID when given (it must be
	// the company's and usable), else the company's default vault of providerID ("":
	// the deployment's default provider), else the deployment's instance.
	Place(ctx context.Context, a actor.Actor, companyID, providerID, vaultID string) (Placement, error)
	// Provider is the instance of providerID that vaultID ("" for the deployment's)
	// configures.
	Provider(ctx context.Context, providerID, vaultID string) (providers.Provider, error)
}

// storage is where secrets' material lives: the deployment's provider instances and,
// through the placer, the companies' provider vaults.
type storage struct {
	// instances are the deployment's, by provider id.
	instances map[string]providers.Provider
	// placer, when set, places secrets in the companies' provider vaults.
	placer          Placer
	defaultProvider string
}

// place decides where a new secret goes.
func (s storage) place(ctx context.Context, a actor.Actor, companyID, providerID, vaultID string) (Placement, error) {
	if s.placer != nil {
		return s.placer.Place(ctx, a, companyID, providerID, vaultID)
	}
	if vaultID != "" {
		return Placement{}, ledgererr.New(ledgererr.NotFound, "provider vault not found")
	}
	if providerID == "" {
		providerID = s.defaultProvider
	}
	p, err := s.provider(providerID)
	return Placement{ProviderID: providerID, Provider: p}, err
}

// providerOf is the provider instance holding a secret's material.
func (s storage) providerOf(ctx context.Context, providerID, vaultID string) (providers.Provider, error) {
	if s.placer != nil {
		return s.placer.Provider(ctx, providerID, vaultID)
	}
	return s.provider(providerID)
}

// place decides where a new secret of a company goes, and returns the company's vault
// stream at the version the decision read: the placer reads the vaults read model,
// which is at least as new as the version memory had just before, so an append
// conditional on that version succeeds only if no vault of the company changed from
// before the placement until the append. A vault disabled or reconfigured meanwhile
// thus makes the create decide again instead of placing a secret in it.
func (h *Secrets) place(ctx context.Context, a actor.Actor, companyID, providerID, vaultID string) (Placement, []eventstore.StreamVersion, error) {
	if h.storage.placer == nil {
		at, err := h.storage.place(ctx, a, companyID, providerID, vaultID)
		return at, nil, err
	}
	vaults, err := h.rt.loadVaults(ctx, companyID)
	if err != nil {
		return Placement{}, nil, err
	}
	at, err := h.storage.place(ctx, a, companyID, providerID, vaultID)
	return at, []eventstore.StreamVersion{{Stream: events.VaultStream(companyID), Version: vaults.streamVersion}}, err
}
