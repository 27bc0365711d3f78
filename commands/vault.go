package commands

import (
	"context"
	"maps"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Providers a vault can name. gcp_secret_manager is coming_soon, and so is vault
// (HashiCorp) on a deployment without a Vault session: such vaults can be created and
// listed, but are never a default and never called.
// WARNING: persisted in events and read models.
const (
	VaultProviderGCP       = providers.GCPSecretManager
	VaultProviderHashiCorp = providers.HashiCorpVault
)

// VaultProviders are the providers a vault may name, in the order they are listed.
var VaultProviders = []string{providers.LocalEncrypted, providers.AWSSecretsManager, VaultProviderGCP, VaultProviderHashiCorp}

// comingSoon reports whether a provider's vaults are listed but never used on a
// deployment without a Vault session.
func comingSoon(provider string) bool {
	return provider == VaultProviderGCP || provider == VaultProviderHashiCorp
}

// comingSoon reports whether a provider's vaults are drafts on this deployment: vault
// vaults are live when it has a Vault session.
func (h *Vaults) comingSoon(provider string) bool {
	if provider == VaultProviderHashiCorp && h.vaultAddress != "" {
		return false
	}
	return comingSoon(provider)
}

// Statuses of a vault: ready and warning vaults are usable (and may be the default);
// warning follows a health check that was not ok.
// WARNING: persisted in events and read models.
const (
	VaultReady      = "ready"
	VaultWarning    = "warning"
	VaultComingSoon = "coming_soon"
	VaultDisabled   = "disabled"
)

// Health statuses of a vault's last recorded check.
// WARNING: persisted in events and read models.
const (
	HealthOK      = "ok"
	HealthWarning = "warning"
	HealthError   = "error"
)

// MaxVaultNameLength bounds a vault's display name, in characters.
const MaxVaultNameLength = 120

// MaxVaultsPerCompany bounds a company's provider vaults, disabled ones included (a
// disabled vault still serves the secrets it holds, so it may still have a provider
// instance in memory). The cap is decided on the company's vault stream, so concurrent
// creates cannot pass it: the second to append is decided again on the new state.
const MaxVaultsPerCompany = 50

// Vault is one provider vault as the commands know it, folded from its company's
// stream. It holds routing metadata only, never a credential.
type Vault struct {
	ID           string
	CompanyID    string
	DisplayName  string
	Provider     string
	Status       string
	IsDefault    bool
	Config       map[string]string
	HealthStatus string // "" until a check was recorded
}

// VaultHealth checks that a vault's provider can be reached with its config. The
// ledger calls it for ready and warning vaults only (never for coming_soon or disabled
// ones). status is ok, warning or error; message and details are shown to operators and
// recorded in the log, so they must never hold a credential.
type VaultHealth interface {
	Check(ctx context.Context, vault Vault) (status, message string, details map[string]any)
}

// DefaultVaultHealth is the health check of a build without provider checks: a
// local_encrypted vault is ok (its storage is the ledger's own database, which answered
// the request), any other is a warning that says it was not checked.
type DefaultVaultHealth struct{}

// Check implements VaultHealth.
func (DefaultVaultHealth) Check(_ context.Context, v Vault) (string, string, map[string]any) {
	if v.Provider == providers.LocalEncrypted {
		return HealthOK, "local encrypted storage is available", map[string]any{"provider": v.Provider}
	}
	return HealthWarning, "not checked: this server has no health check for " + v.Provider, map[string]any{"provider": v.Provider}
}

// VaultLocator names the company a vault belongs to (the read model knows), so that a
// command on a vault id can load the right stream. An unknown vault is ENOTFOUND.
type VaultLocator interface {
	VaultCompany(ctx context.Context, vaultID string) (string, error)
}

// Vaults handles the provider vault commands: CreateVault, UpdateVault,
// SetDefaultVault, DisableVault and CheckVaultHealth.
type Vaults struct {
	rt      *Runtime
	locator VaultLocator
	// checker checks vaults; nil is DefaultVaultHealth.
	checker VaultHealth
	// awsVaults allows aws_secrets_manager vaults (LEDGER_AWS_VAULTS on, or an AWS
	// deployment); without it, creating one is refused.
	awsVaults bool
	// vaultAddress is the deployment's Vault address, "" without a Vault session (vault
	// vaults are then drafts).
	vaultAddress string
}

// VaultResult is what a vault command wrote.
type VaultResult struct {
	VaultID string
	// Position is the log position of the last event written, 0 when the command
	// changed nothing.
	Position int64
	Replayed bool
}

// vaultsState is a company's vaults folded from its stream.
type vaultsState struct {
	companyID     string
	vaults        map[string]Vault
	streamVersion int64
}

func (s *vaultsState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion = e.StreamVersion
	return vaultsFold.Apply(s, e, p)
}

// vaultsFold is what a company's vaults do with each event of their stream.
var vaultsFold = events.Dispatch[*vaultsState]{
	Name:    "commands: vaultsState",
	Streams: []string{events.VaultStreamPrefix},
	Handle: map[string]events.Handler[*vaultsState]{
		events.VaultCreated: events.On(func(s *vaultsState, e eventstore.Event, p *events.VaultCreatedV1) {
			s.vaults[p.VaultID] = Vault{ID: p.VaultID, CompanyID: e.CompanyID, DisplayName: p.DisplayName, Provider: p.Provider,
				Status: p.Status, Config: maps.Clone(p.Config)}
		}),
		events.VaultUpdated: events.On(func(s *vaultsState, _ eventstore.Event, p *events.VaultUpdatedV1) {
			v := s.vaults[p.VaultID]
			if p.DisplayName != nil {
				v.DisplayName = *p.DisplayName
			}
			if p.Config != nil {
				v.Config = maps.Clone(*p.Config)
				v.HealthStatus = ""
				if v.Status == VaultWarning {
					v.Status = VaultReady
				}
			}
			s.vaults[p.VaultID] = v
		}),
		events.VaultDefaultSet: events.On(func(s *vaultsState, _ eventstore.Event, p *events.VaultDefaultSetV1) {
			if prev, ok := s.vaults[p.PreviousDefaultID]; ok {
				prev.IsDefault = false
				s.vaults[prev.ID] = prev
			}
			v := s.vaults[p.VaultID]
			v.IsDefault = true
			s.vaults[p.VaultID] = v
		}),
		events.VaultDisabled: events.On(func(s *vaultsState, _ eventstore.Event, p *events.VaultDisabledV1) {
			v := s.vaults[p.VaultID]
			v.Status, v.IsDefault = VaultDisabled, false
			s.vaults[p.VaultID] = v
		}),
		events.VaultHealthChecked: events.On(func(s *vaultsState, _ eventstore.Event, p *events.VaultHealthCheckedV1) {
			v := s.vaults[p.VaultID]
			v.HealthStatus, v.Status = p.HealthStatus, p.Status
			s.vaults[p.VaultID] = v
		}),
	},
}

// defaultOf returns the default vault of a provider, "" when there is none.
func (s vaultsState) defaultOf(provider string) string {
	for id, v := range s.vaults {
		if v.IsDefault && v.Provider == provider {
			return id
		}
	}
	return ""
}

var (
	errVaultNotFound   = ledgererr.New(ledgererr.NotFound, "provider vault not found")
	errCompanyNotFound = ledgererr.New(ledgererr.NotFound, "company not found")
)

// checkBoard admits board actors: agent keys never manage vaults.
func checkBoard(a actor.Actor) error {
	if a.Type != actor.Board {
		return ledgererr.New(ledgererr.Forbidden, "provider vaults are managed with board tokens")
	}
	return nil
}

// loadVaults returns a company's vaults from memory (or the log).
func (rt *Runtime) loadVaults(ctx context.Context, companyID string) (vaultsState, error) {
	st, err := rt.mem.vaults.get(ctx, events.VaultStream(companyID), rt.foldAfter)
	st.companyID = companyID
	return st, err
}

// locate returns the company of a vault the actor may see; any other is not found.
func (h *Vaults) locate(ctx context.Context, a actor.Actor, vaultID string) (string, error) {
	if err := checkBoard(a); err != nil {
		return "", err
	}
	if vaultID == "" || strings.ContainsAny(vaultID, "/ ") {
		return "", errVaultNotFound
	}
	company, err := h.locator.VaultCompany(ctx, vaultID)
	if ledgererr.CodeOf(err) == ledgererr.NotFound || (err == nil && !a.CanAccess(company)) {
		return "", errVaultNotFound
	}
	return company, err
}

// vaultEvent is one event a decision wants appended.
type vaultEvent struct {
	typ     string
	payload any
}

// decision is what deciding a vault command on the current state gives: the vault it
// concerns and the events to append (none: nothing changes).
type decision struct {
	vaultID string
	events  []vaultEvent
	// cond are the other streams the decision read, at the versions it read them.
	cond []eventstore.StreamVersion
}

// run decides a vault command on the company's vaults and appends with the stream
// version it read (and those of the other streams the decision read): when another
// write to one of them got in first, it decides again on the new state (decideAgain).
// An idempotency key used for another request is refused, not decided again.
func (h *Vaults) run(ctx context.Context, req Request, companyID string, decide func(vaultsState) (decision, error)) (VaultResult, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (VaultResult, error) { return h.runOnce(ctx, req, companyID, decide) })
}

func (h *Vaults) runOnce(ctx context.Context, req Request, companyID string, decide func(vaultsState) (decision, error)) (VaultResult, error) {
	st, err := h.rt.loadVaults(ctx, companyID)
	if err != nil {
		return VaultResult{}, err
	}
	d, err := decide(st)
	if err != nil || len(d.events) == 0 {
		return VaultResult{VaultID: d.vaultID}, err
	}
	evs := make([]eventstore.EventData, len(d.events))
	for i, ve := range d.events {
		if evs[i], err = events.New(ve.typ, companyID, ve.payload, req.metadata()); err != nil {
			return VaultResult{}, err
		}
	}
	stream := events.VaultStream(companyID)
	res, err := h.rt.append(ctx, eventstore.Append{Stream: stream, Expected: st.streamVersion, Events: evs,
		Idempotency: req.Idempotency, Condition: d.cond})
	if err != nil {
		return VaultResult{}, err
	}
	out := VaultResult{VaultID: d.vaultID, Position: res.LastPosition, Replayed: res.Replayed}
	if res.Replayed {
		// The first request's vault, which for a create is not this attempt's new id.
		if out.VaultID, err = h.replayedVault(ctx, stream, res); err != nil {
			return VaultResult{}, err
		}
	}
	return out, nil
}

// replayedVault reads the vault id of the first event an earlier, identical request
// appended. The events of one append have consecutive positions and stream versions.
func (h *Vaults) replayedVault(ctx context.Context, stream string, res eventstore.AppendResult) (string, error) {
	n := res.LastPosition - res.FirstPosition + 1
	evs, err := h.rt.log.ReadStream(ctx, stream, res.StreamVersion-n, 1)
	if err != nil {
		return "", err
	}
	if len(evs) == 1 {
		p, err := events.Decode(evs[0])
		if err != nil {
			return "", err
		}
		if id := vaultIDOf(p); id != "" {
			return id, nil
		}
	}
	return "", ledgererr.New(ledgererr.Conflict, "the idempotency key was used for a request that wrote no provider vault")
}

// vaultIDOf is the vault a vault event is about, "" for any other event.
func vaultIDOf(payload any) string {
	switch p := payload.(type) {
	case *events.VaultCreatedV1:
		return p.VaultID
	case *events.VaultUpdatedV1:
		return p.VaultID
	case *events.VaultDefaultSetV1:
		return p.VaultID
	case *events.VaultDisabledV1:
		return p.VaultID
	case *events.VaultHealthCheckedV1:
		return p.VaultID
	}
	return ""
}

func (h *Vaults) health() VaultHealth {
	if h.checker != nil {
		return h.checker
	}
	return DefaultVaultHealth{}
}

// LoggedConfig returns a vault's provider and config as its company's log says: from the
// authenticated log (and the memory folded from it), never from the read model, whose
// rows the runtime's database credentials can change. The placement builds provider
// instances from it, so an edited row cannot reroute a vault's secrets.
func (h *Vaults) LoggedConfig(ctx context.Context, companyID, vaultID string) (provider string, cfg map[string]string, err error) {
	st, err := h.rt.loadVaults(ctx, companyID)
	if err != nil {
		return "", nil, err
	}
	v, ok := st.vaults[vaultID]
	if !ok {
		return "", nil, errVaultNotFound
	}
	return v.Provider, maps.Clone(v.Config), nil
}
