package commands

import (
	"context"
	"maps"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// UpdateVault changes a vault's display name or config; nil fields stay as they are.
// Provider, when given, must be the vault's own: a vault never changes provider.
type UpdateVault struct {
	VaultID     string
	DisplayName *string
	Provider    *string
	// Config, when not nil, replaces the whole config (validated as on create).
	Config map[string]any
}

// decideUpdateVault returns the change; no events when nothing changes.
func decideUpdateVault(st vaultsState, c UpdateVault) (decision, error) {
	d := decision{vaultID: c.VaultID}
	v, ok := st.vaults[c.VaultID]
	if !ok {
		return d, errVaultNotFound
	}
	if err := checkNoCredentials(c.Config); err != nil {
		return d, err
	}
	if c.Provider != nil && *c.Provider != v.Provider {
		return d, ledgererr.New(ledgererr.Invalid, "a vault's provider cannot be changed; create another vault")
	}
	if v.Status == VaultDisabled {
		return d, ledgererr.New(ledgererr.Invalid, "a disabled vault cannot be changed")
	}
	p := events.VaultUpdatedV1{VaultID: c.VaultID}
	if c.DisplayName != nil {
		name, err := checkVaultName(*c.DisplayName)
		if err != nil {
			return d, err
		}
		if name != v.DisplayName {
			p.DisplayName = &name
		}
	}
	if c.Config != nil {
		cfg, err := checkVaultConfig(v.Provider, c.Config)
		if err != nil {
			return d, err
		}
		if !maps.Equal(cfg, v.Config) {
			p.Config = &cfg
		}
	}
	if p.DisplayName != nil || p.Config != nil {
		d.events = []vaultEvent{{events.VaultUpdated, p}}
	}
	return d, nil
}

// UpdateVault runs UpdateVault. An update that changes nothing writes nothing.
func (h *Vaults) UpdateVault(ctx context.Context, req Request, c UpdateVault) (VaultResult, error) {
	company, err := h.locate(ctx, req.Actor, c.VaultID)
	if err != nil {
		return VaultResult{}, err
	}
	return h.run(ctx, req, company, func(st vaultsState) (decision, error) {
		d, err := decideUpdateVault(st, c)
		if err == nil {
			err = h.checkVaultPolicy(ctx, req.Actor, company, st, &d)
		}
		return d, err
	})
}
