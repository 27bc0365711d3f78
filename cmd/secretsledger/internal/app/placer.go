package app

import (
	"context"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/localenc"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/queries"
)

// newPlacer builds the deployment's provider instances (local_encrypted always;
// aws_secrets_manager or vault when it is the default provider) and the placement of
// secrets in the companies' vaults over them; vault instances share the deployment's
// Vault session vs (nil: none). Instances are measured when m is set.
func newPlacer(ctx context.Context, o Options, local *localenc.Provider, localCalls providers.Provider,
	vaults queries.Vaults, vs *vaultkv.Session, m *metrics.Metrics) (*placement.Placer, error) {
	a := o.Config.AWS
	p := &placement.Placer{
		Vaults:          vaults,
		Deployment:      map[string]providers.Provider{providers.LocalEncrypted: localCalls},
		DefaultProvider: o.Config.SecretsProvider,
		AWSDefaults: awssm.Config{Endpoint: a.Endpoint, Prefix: a.Prefix, KMSKeyID: a.KMSKeyID, Environment: a.Environment,
			ProviderOwner: a.ProviderOwner, DeleteRecoveryDays: a.DeleteRecoveryDays, CacheTTL: a.CacheTTL,
			DeploymentID: a.DeploymentID, Log: o.Log, Fingerprint: local.Sealer().Fingerprint},
		AWSVaults: a.Vaults,
	}
	p.AWS = func(ctx context.Context, cfg awssm.Config) (providers.Provider, error) {
		inst, err := awssm.New(ctx, cfg, awssm.WithGetenv(o.Getenv))
		if err != nil || m == nil {
			return inst, err
		}
		return m.Provider(inst), nil
	}
	if o.Config.SecretsProvider == providers.AWSSecretsManager {
		cfg := p.AWSDefaults
		cfg.Region, cfg.DeploymentID = a.Region, a.DeploymentID
		inst, err := p.AWS(ctx, cfg)
		if err != nil {
			return nil, usage.Errorf("the deployment's aws_secrets_manager settings: %w", err)
		}
		p.Deployment[providers.AWSSecretsManager] = inst
	}
	if err := wireVault(p, o, vs, m, local.Sealer().Fingerprint); err != nil {
		return nil, err
	}
	return p, nil
}
