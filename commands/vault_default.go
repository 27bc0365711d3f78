package commands

import (
	"context"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// checkDefaultable refuses to make a vault of this status a default: only a usable
// (ready or warning) vault can be one.
func checkDefaultable(status string) error {
	switch status {
	case VaultReady, VaultWarning:
		return nil
	case VaultComingSoon:
		return ledgererr.New(ledgererr.Invalid, "a coming_soon vault cannot be a default")
	}
	return ledgererr.New(ledgererr.Invalid, "a %s vault cannot be a default", status)
}

// decideSetDefault makes a vault its provider's default; the previous default stops
// being it in the same event. Setting the default that is already it changes nothing.
// A vault whose stored config breaks today's rules (stored before they were tightened)
// is refused as the create would be: it could not place a secret.
func decideSetDefault(st vaultsState, vaultID string) (decision, error) {
	d := decision{vaultID: vaultID}
	v, ok := st.vaults[vaultID]
	if !ok {
		return d, errVaultNotFound
	}
	if err := checkDefaultable(v.Status); err != nil {
		return d, err
	}
	if err := CheckVaultConfig(v.Provider, v.Config); err != nil {
		return d, err
	}
	if v.IsDefault {
		return d, nil
	}
	d.events = []vaultEvent{{events.VaultDefaultSet,
		events.VaultDefaultSetV1{VaultID: vaultID, Provider: v.Provider, PreviousDefaultID: st.defaultOf(v.Provider)}}}
	return d, nil
}

// SetDefaultVault makes a vault the default of its company and provider.
func (h *Vaults) SetDefaultVault(ctx context.Context, req Request, vaultID string) (VaultResult, error) {
	company, err := h.locate(ctx, req.Actor, vaultID)
	if err != nil {
		return VaultResult{}, err
	}
	return h.run(ctx, req, company, func(st vaultsState) (decision, error) { return decideSetDefault(st, vaultID) })
}

// decideDisable soft-deletes a vault: status disabled, no longer a default. Disabling
// a disabled vault changes nothing.
func decideDisable(st vaultsState, vaultID string) (decision, error) {
	d := decision{vaultID: vaultID}
	v, ok := st.vaults[vaultID]
	if !ok {
		return d, errVaultNotFound
	}
	if v.Status != VaultDisabled {
		d.events = []vaultEvent{{events.VaultDisabled, events.VaultDisabledV1{VaultID: vaultID}}}
	}
	return d, nil
}

// DisableVault runs a soft delete of a vault; repeating it succeeds.
func (h *Vaults) DisableVault(ctx context.Context, req Request, vaultID string) (VaultResult, error) {
	company, err := h.locate(ctx, req.Actor, vaultID)
	if err != nil {
		return VaultResult{}, err
	}
	return h.run(ctx, req, company, func(st vaultsState) (decision, error) { return decideDisable(st, vaultID) })
}
