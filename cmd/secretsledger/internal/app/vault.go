package app

import (
	"log/slog"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

// VaultDefaults is the deployment's vault configuration (PAPERCLIP_SECRETS_VAULT_*): the
// default instance's, and what a vault vault does not set.
func VaultDefaults(c config.Config, log *slog.Logger, fingerprint func(string, providers.Value) string) vaultkv.Config {
	v := c.Vault
	return vaultkv.Config{Namespace: v.Namespace, Mount: v.Mount, Prefix: v.PathPrefix, DeploymentID: v.DeploymentID,
		VersionRetention: v.VersionRetention, CacheTTL: v.CacheTTL, Log: log, Fingerprint: fingerprint}
}

// NewVaultSession is the deployment's Vault session, nil without
// PAPERCLIP_SECRETS_VAULT_ADDR. It calls nothing: the first provider call logs in.
func NewVaultSession(c config.Config) (*vaultkv.Session, error) {
	if !c.Vault.Configured() {
		return nil, nil
	}
	s, err := vaultkv.NewSession(c.Vault.SessionConfig())
	if err != nil {
		return nil, usage.Errorf("the deployment's vault settings: %w", err)
	}
	return s, nil
}

// wireVault gives the placer the vault vaults' factory over the session s (measured
// when m is set) and, when vault is the default provider, the deployment's instance.
// Without a session, vault vaults stay off.
func wireVault(p *placement.Placer, o Options, s *vaultkv.Session, m *metrics.Metrics,
	fingerprint func(string, providers.Value) string) error {
	if s == nil {
		return nil
	}
	p.VaultDefaults = VaultDefaults(o.Config, o.Log, fingerprint)
	p.VaultAddress = o.Config.Vault.Addr
	p.Vault = func(cfg vaultkv.Config) (providers.Provider, error) {
		inst, err := vaultkv.New(cfg, s)
		if err != nil || m == nil {
			return inst, err
		}
		return m.Provider(inst), nil
	}
	if o.Config.SecretsProvider != providers.HashiCorpVault {
		return nil
	}
	inst, err := p.Vault(p.VaultDefaults)
	if err != nil {
		return usage.Errorf("the deployment's vault settings: %w", err)
	}
	p.Deployment[providers.HashiCorpVault] = inst
	return nil
}
