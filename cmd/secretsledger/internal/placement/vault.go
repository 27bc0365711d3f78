package placement

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/queries"
)

// ErrVaultVaultsOff refuses a vault vault on a deployment without a Vault session; it
// carries the provider code provider_guardrail.
var ErrVaultVaultsOff error = ledgererr.Wrap(&providers.GuardrailError{Reason: "vault session off"}, ledgererr.Invalid,
	"vault vaults are off on this instance: it has no Vault session (set PAPERCLIP_SECRETS_VAULT_ADDR and its auth settings)")

// checkStored checks a vault's stored config with the rule create and PATCH apply, and a
// vault vault's address against the session's: a vault stored before a rule was
// tightened, or before the deployment's address changed, is a configuration error
// naming the field (EINVALID), not an outage.
func (p *Placer) checkStored(v queries.Vault) error {
	if err := commands.CheckVaultConfig(v.Provider, v.Config); err != nil {
		return ledgererr.New(ledgererr.Invalid, "the provider vault's configuration cannot be used: %s; change it with PATCH",
			ledgererr.MessageOf(err))
	}
	if a, ok := v.Config["address"]; ok && v.Provider == providers.HashiCorpVault && !commands.SameVaultAddress(a, p.VaultAddress) {
		return ledgererr.New(ledgererr.Invalid, "the provider vault's configuration cannot be used: config.address is not this "+
			"deployment's Vault address (the deployment's credentials are sent only there); change it with PATCH or leave it out")
	}
	return nil
}

// build builds the instance of an AWS or vault vault whose config passed checkStored.
func (p *Placer) build(ctx context.Context, v queries.Vault) (providers.Provider, error) {
	if v.Provider == providers.HashiCorpVault {
		inst, err := p.Vault(p.VaultConfig(v))
		if err != nil {
			// New validates the configuration and calls nothing: its words name the
			// vault's own routing, never a credential.
			return nil, ledgererr.Wrap(err, ledgererr.Invalid, "the provider vault's Vault configuration cannot be used: %s", err.Error())
		}
		return inst, nil
	}
	inst, err := p.AWS(ctx, p.awsConfig(v))
	if err != nil {
		return nil, ledgererr.Wrap(err, ledgererr.Unavailable, "the provider vault's AWS configuration cannot be used")
	}
	return inst, nil
}

// VaultConfig is a vault vault's configuration over the deployment's: its managed root
// is <mount>/<prefix>/<vault id>/ in its namespace, each part the deployment's unless
// the vault sets it.
func (p *Placer) VaultConfig(v queries.Vault) vaultkv.Config {
	c := p.VaultDefaults
	c.DeploymentID = v.ID
	if ns := v.Config["namespace"]; ns != "" {
		c.Namespace = ns
	}
	if m := commands.VaultMount(v.Config); m != "" {
		c.Mount = m
	}
	if prefix := v.Config["secretPathPrefix"]; prefix != "" {
		c.Prefix = prefix
	}
	return c
}

// vaultRoot is a configuration's managed root as vault references are compared:
// [namespace/]mount/prefix/deploymentId/.
func vaultRoot(c vaultkv.Config) string {
	mount := c.Mount
	if mount == "" {
		mount = vaultkv.DefaultMount
	}
	return vaultkv.RefName(c.Namespace, mount, vaultkv.ManagedRoot(c.Prefix, c.DeploymentID))
}

// checkVault is the health check of a vault vault: its provider's (Vault reachable and
// unsealed, the session's login, the mount a KV v2 engine, the capabilities on the
// managed root). The recorded details are the vault's own routing (the provider's
// VaultMap when it has one), never the instance's address or auth method.
func (p *Placer) checkVault(ctx context.Context, v commands.Vault) (status, message string, details map[string]any) {
	inst, err := p.instance(ctx, queries.Vault{ID: v.ID, CompanyID: v.CompanyID, Provider: v.Provider, Config: v.Config})
	if err != nil {
		return "error", ledgererr.MessageOf(err), nil
	}
	d, ok := unwrap(inst).(interface {
		HealthDetails(ctx context.Context) vaultkv.HealthDetails
	})
	if !ok {
		return "error", "the vault vault's instance cannot check its health", nil
	}
	own := v.Config["secretPathPrefix"] != ""
	hd := d.HealthDetails(ctx)
	h := hd.Health()
	details, message = hd.VaultMap(own), hd.VaultSummary(own)
	if len(h.Findings) > 0 {
		message += "; " + strings.Join(h.Findings, "; ")
	}
	if !h.OK {
		return "error", message, details
	}
	return "ok", message, details
}

// VaultsOnlyProviders describes the providers whose vaults the companies may use
// without a deployment instance of them: vault, with a Vault session and another
// default provider.
func (p *Placer) VaultsOnlyProviders() []providers.Descriptor {
	if _, ok := p.Deployment[providers.HashiCorpVault]; ok || p.Vault == nil {
		return nil
	}
	return []providers.Descriptor{{ID: providers.HashiCorpVault, Label: "HashiCorp Vault", SupportsManagedValues: true,
		SupportsExternalReferences: true, Configured: true}}
}

// ProbeVault implements commands.VaultProbe: a vault vault's mount must be a KV version
// 2 engine when it is configured. A Vault that does not answer now passes (the health
// check records it); only an answer that says the mount can never work refuses.
func (p *Placer) ProbeVault(ctx context.Context, v commands.Vault) error {
	if v.Provider != providers.HashiCorpVault || p.Vault == nil {
		return nil
	}
	inst, err := p.Vault(p.VaultConfig(queries.Vault{ID: v.ID, Provider: v.Provider, Config: v.Config}))
	if err != nil {
		return ledgererr.Wrap(err, ledgererr.Invalid, "the provider vault's Vault configuration cannot be used: %s", err.Error())
	}
	defer closeInstance(inst)
	m, ok := unwrap(inst).(interface {
		CheckMount(ctx context.Context) error
	})
	if !ok {
		return nil
	}
	if err := m.CheckMount(ctx); ledgererr.CodeOf(err) == ledgererr.Invalid {
		return ledgererr.Wrap(err, ledgererr.Invalid, "config.mountPath: %s", ledgererr.MessageOf(err))
	}
	return nil
}
