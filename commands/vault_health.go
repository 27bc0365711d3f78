package commands

import (
	"context"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/events"
)

// vaultHealthTimeout bounds one health check, so that a provider that hangs cannot hold
// the request.
const vaultHealthTimeout = 10 * time.Second

// statusAfterHealth is a usable vault's status after a check: ready when ok, warning
// otherwise.
func statusAfterHealth(health string) string {
	if health == HealthOK {
		return VaultReady
	}
	return VaultWarning
}

// normalizeHealth keeps a checker's answer within the persisted statuses: anything but
// ok and warning counts as error.
func normalizeHealth(status string) string {
	switch status {
	case HealthOK, HealthWarning:
		return status
	}
	return HealthError
}

// decideHealth records a check's result when its health status differs from the last
// recorded one; an identical check leaves the log alone.
func decideHealth(st vaultsState, vaultID, status, message string, details map[string]any) (decision, error) {
	d := decision{vaultID: vaultID}
	v, ok := st.vaults[vaultID]
	if !ok {
		return d, errVaultNotFound
	}
	if v.Status != VaultReady && v.Status != VaultWarning {
		return d, nil // coming_soon and disabled vaults are never checked
	}
	status = normalizeHealth(status)
	if status == v.HealthStatus {
		return d, nil
	}
	if details == nil {
		details = map[string]any{}
	}
	d.events = []vaultEvent{{events.VaultHealthChecked, events.VaultHealthCheckedV1{VaultID: vaultID, HealthStatus: status,
		Message: message, Details: details, Status: statusAfterHealth(status)}}}
	return d, nil
}

// CheckVaultHealth runs the vault's health check and records its result when the
// health status changed. coming_soon and disabled vaults are not checked; the answer is
// then the vault as it is.
func (h *Vaults) CheckVaultHealth(ctx context.Context, req Request, vaultID string) (VaultResult, error) {
	company, err := h.locate(ctx, req.Actor, vaultID)
	if err != nil {
		return VaultResult{}, err
	}
	// Decided again when memory was behind the log, like any answer that writes nothing.
	v, err := decideAgain(ctx, h.rt, func(ctx context.Context) (Vault, error) {
		st, err := h.rt.loadVaults(ctx, company)
		if err != nil {
			return Vault{}, err
		}
		v, ok := st.vaults[vaultID]
		if !ok {
			return Vault{}, errVaultNotFound
		}
		return v, nil
	})
	if err != nil {
		return VaultResult{}, err
	}
	if v.Status != VaultReady && v.Status != VaultWarning {
		return VaultResult{VaultID: vaultID}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, vaultHealthTimeout)
	status, message, details := h.health().Check(cctx, v)
	cancel()
	return h.run(ctx, req, company, func(st vaultsState) (decision, error) {
		return decideHealth(st, vaultID, status, message, details)
	})
}
