package commands

import (
	"context"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// vaultRoutingKeys are the keys of a vault vault's config that say where its secrets
// go. Each managed root "<mount>/<prefix>/<vault id>/" is managed for the whole
// instance, and the deployment's token reads and writes there on the company's behalf:
// a tenant choosing them could spell another company's approved prefix (stopping its
// references) or reach paths the instance's operator never meant for it.
var vaultRoutingKeys = []string{"address", "namespace", "mountPath", "mount", "secretPathPrefix"}

// decideVaultDeployment is the deployment's decision on a vault vault's config cfg (old:
// the config it replaces, nil on create) when it has a Vault session (deploymentAddr
// set; without one vault vaults are drafts, never called, and any address passes): the
// address, when given, is the deployment's (any other would receive the deployment's
// token), and a token limited to companies changes no routing key: it sets none on
// create (the deployment's are used), and a PATCH keeps each as it is, set or not (one
// dropped would move the vault to the deployment's namespace and mount, out of where an
// instance-wide token put it). The answer never echoes the deployment's address.
func decideVaultDeployment(provider string, cfg, old map[string]string, deploymentAddr string, limited bool) error {
	if provider != VaultProviderHashiCorp || deploymentAddr == "" {
		return nil
	}
	if a, ok := cfg["address"]; ok && !SameVaultAddress(a, deploymentAddr) {
		return ledgererr.New(ledgererr.Invalid,
			"config.address must be this deployment's Vault address (PAPERCLIP_SECRETS_VAULT_ADDR), or be left out: "+
				"the deployment's credentials are sent to it")
	}
	if !limited {
		return nil
	}
	for _, k := range vaultRoutingKeys {
		v, set := cfg[k]
		if was, wasSet := old[k]; set != wasSet || v != was {
			return ledgererr.WithReason(ledgererr.Invalid, ReasonVaultNamespaceRefused,
				"config.%s: a token limited to companies does not set or change a vault vault's address, namespace, "+
					"mountPath or secretPathPrefix (the deployment's are used, or those an instance-wide token set); an "+
					"instance-wide token may", k)
		}
	}
	return nil
}

// checkVaultDeployment is decideVaultDeployment on each vault a decision creates or
// reconfigures.
func (h *Vaults) checkVaultDeployment(st vaultsState, d decision, limited bool) error {
	for _, ve := range d.events {
		var err error
		switch p := ve.payload.(type) {
		case events.VaultCreatedV1:
			err = decideVaultDeployment(p.Provider, p.Config, nil, h.vaultAddress, limited)
		case events.VaultUpdatedV1:
			if p.Config != nil {
				v := st.vaults[p.VaultID]
				err = decideVaultDeployment(v.Provider, *p.Config, v.Config, h.vaultAddress, limited)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// VaultProbe is implemented by health checkers that can tell, when a vault is
// configured, that its configuration can never work (vault: the mount is not a KV
// version 2 engine). Such a vault is refused then (422), not found at its first write.
// A provider that cannot be reached now is no reason to refuse: the health check
// records it later.
type VaultProbe interface {
	ProbeVault(ctx context.Context, vault Vault) error
}

// probeVaults probes each vault vault a decision creates or reconfigures.
func (h *Vaults) probeVaults(ctx context.Context, companyID string, st vaultsState, d decision) error {
	probe, ok := h.checker.(VaultProbe)
	if !ok || h.vaultAddress == "" {
		return nil
	}
	for _, ve := range d.events {
		v := Vault{CompanyID: companyID}
		switch p := ve.payload.(type) {
		case events.VaultCreatedV1:
			v.ID, v.Provider, v.Config = p.VaultID, p.Provider, p.Config
		case events.VaultUpdatedV1:
			if p.Config == nil {
				continue
			}
			v.ID, v.Provider, v.Config = p.VaultID, st.vaults[p.VaultID].Provider, *p.Config
		default:
			continue
		}
		if v.Provider != VaultProviderHashiCorp {
			continue
		}
		if err := probe.ProbeVault(ctx, v); err != nil {
			return err
		}
	}
	return nil
}
