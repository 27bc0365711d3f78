package commands

import (
	"context"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// ErrAWSVaultsOff refuses an aws_secrets_manager vault on an instance not configured
// for AWS; it carries the provider code provider_guardrail.
var ErrAWSVaultsOff error = ledgererr.Wrap(&providers.GuardrailError{Reason: "aws vaults off"}, ledgererr.Invalid,
	"aws_secrets_manager vaults are off on this instance: set LEDGER_AWS_VAULTS=on (or PAPERCLIP_SECRETS_PROVIDER=aws_secrets_manager) to use them")

// CreateVault creates a provider vault; IsDefault makes it its provider's default at
// once (in the same append).
type CreateVault struct {
	CompanyID   string
	DisplayName string
	Provider    string
	// Config is the JSON object the client sent (nil: {}), validated strictly.
	Config    map[string]any
	IsDefault bool
}

// decideCreateVault validates a create for a new vault id on the company's state, on a
// deployment without a Vault session.
func decideCreateVault(st vaultsState, id string, c CreateVault) (decision, error) {
	return decideNewVault(st, id, c, comingSoon)
}

// decideNewVault validates a create; draft says which providers' vaults are
// coming_soon drafts on the deployment.
func decideNewVault(st vaultsState, id string, c CreateVault, draft func(provider string) bool) (decision, error) {
	// The credential check comes before anything else, so that the answer is the one
	// that says why, whatever else is wrong.
	if err := checkNoCredentials(c.Config); err != nil {
		return decision{}, err
	}
	if len(st.vaults) >= MaxVaultsPerCompany {
		return decision{}, ledgererr.New(ledgererr.Invalid,
			"a company has at most %d provider vaults, disabled ones included; change an existing vault instead", MaxVaultsPerCompany)
	}
	name, err := checkVaultName(c.DisplayName)
	if err != nil {
		return decision{}, err
	}
	if err := checkVaultProvider(c.Provider); err != nil {
		return decision{}, err
	}
	cfg, err := checkVaultConfig(c.Provider, c.Config)
	if err != nil {
		return decision{}, err
	}
	status := VaultReady
	if draft(c.Provider) {
		status = VaultComingSoon
	}
	d := decision{vaultID: id, events: []vaultEvent{{events.VaultCreated,
		events.VaultCreatedV1{VaultID: id, DisplayName: name, Provider: c.Provider, Status: status, Config: cfg}}}}
	if c.IsDefault {
		if err := checkDefaultable(status); err != nil {
			return decision{}, err
		}
		d.events = append(d.events, vaultEvent{events.VaultDefaultSet,
			events.VaultDefaultSetV1{VaultID: id, Provider: c.Provider, PreviousDefaultID: st.defaultOf(c.Provider)}})
	}
	return d, nil
}

// CreateVault runs CreateVault.
func (h *Vaults) CreateVault(ctx context.Context, req Request, c CreateVault) (VaultResult, error) {
	if err := checkBoard(req.Actor); err != nil {
		return VaultResult{}, err
	}
	if !req.Actor.CanAccess(c.CompanyID) {
		return VaultResult{}, errCompanyNotFound
	}
	if c.Provider == providers.AWSSecretsManager && !h.awsVaults {
		// The credential check still comes first: it says why whatever else is wrong.
		if err := checkNoCredentials(c.Config); err != nil {
			return VaultResult{}, err
		}
		return VaultResult{}, ErrAWSVaultsOff
	}
	id := ulid.Make().String()
	return h.run(ctx, req, c.CompanyID, func(st vaultsState) (decision, error) {
		d, err := decideNewVault(st, id, c, h.comingSoon)
		if err == nil {
			err = h.checkVaultPolicy(ctx, req.Actor, c.CompanyID, st, &d)
		}
		return d, err
	})
}
