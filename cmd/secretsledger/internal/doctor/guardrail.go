package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/queries"
)

// maxGuardrailFindings bounds the lines doctor prints for refused external references.
const maxGuardrailFindings = 50

// externalRefs reports what the guardrail of external references now refuses on this
// instance: AWS vaults while LEDGER_AWS_VAULTS is off (WARN: their secrets are refused),
// and each live external reference under a managed namespace of the instance (FAIL: it
// no longer resolves; an upgrade where a company had linked another's managed secret).
// The managed-by tag is checked at resolution only: doctor makes no AWS call per
// reference.
func (r *checker) externalRefs(ctx context.Context, conn *pgx.Conn, url string) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %v", err)})
		return
	}
	defer pool.Close()
	placer := r.guardrailPlacer(pool)
	vaults, err := placer.Vaults.RemoteVaultConfigs(ctx)
	if err == nil {
		r.remoteVaultsOff(vaults)
	}
	namespaces, err := placer.ManagedNamespaces(ctx)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %v", err)})
		return
	}
	refName := refNamer(placer, vaults)
	rows, err := conn.Query(ctx, `SELECT DISTINCT s.company_id, s.id, s.provider, coalesce(s.provider_config_id, ''), v.external_ref
		FROM company_secrets s JOIN company_secret_versions v ON v.secret_id = s.id
		WHERE s.managed_mode = 'external_reference' AND s.deleted_at IS NULL AND v.external_ref IS NOT NULL
		ORDER BY s.company_id, s.id`)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %v", err)})
		return
	}
	refused := 0
	var company, id, provider, vaultID, ref string
	_, err = pgx.ForEachRow(rows, []any{&company, &id, &provider, &vaultID, &ref}, func() error {
		if !commands.UnderNamespace(refName(provider, vaultID, ref), namespaces) {
			return nil
		}
		if refused++; refused <= maxGuardrailFindings {
			r.report(instance.Finding{Message: fmt.Sprintf("external reference: secret %s of company %s names a secret under a namespace "+
				"this ledger manages; it no longer resolves (provider_guardrail): delete it, and find out why it was linked", id, company)})
		}
		return nil
	})
	switch {
	case err != nil:
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %v", err)})
	case refused > maxGuardrailFindings:
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %d more under managed namespaces", refused-maxGuardrailFindings)})
	case refused == 0:
		r.report(instance.Finding{OK: true, Message: "external references: none under a managed namespace"})
	}
}

// guardrailPlacer is a placer that knows the instance's managed namespaces (it builds
// no instance): the deployment's AWS namespace and, with a Vault session, its managed
// root, and those of every vault.
func (r *checker) guardrailPlacer(pool *pgxpool.Pool) *placement.Placer {
	c := r.in.Config
	p := &placement.Placer{Vaults: queries.Vaults{DB: pool},
		AWSDefaults: awssm.Config{Prefix: c.AWS.Prefix, DeploymentID: c.AWS.DeploymentID}}
	if c.Vault.Configured() {
		p.VaultDefaults = app.VaultDefaults(c, nil, nil)
		p.VaultAddress = c.Vault.Addr
		p.Vault = func(vaultkv.Config) (providers.Provider, error) {
			return nil, errors.New("doctor builds no vault instance")
		}
	}
	return p
}

// remoteVaultsOff warns about AWS vaults while LEDGER_AWS_VAULTS is off and vault vaults
// while the deployment has no Vault session that hold secrets the guardrail refuses.
func (r *checker) remoteVaultsOff(vaults []queries.Vault) {
	c := r.in.Config
	var aws, vault int
	for _, v := range vaults {
		switch {
		case v.Provider == providers.AWSSecretsManager:
			aws++
		case v.Provider == providers.HashiCorpVault && v.Usable():
			vault++ // drafts (coming_soon) hold nothing
		}
	}
	if vault > 0 && !c.Vault.Configured() {
		r.report(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf("vault: %d vault vault(s) exist but PAPERCLIP_SECRETS_VAULT_ADDR "+
			"is unset: their secrets are refused (provider_guardrail) until the deployment's Vault session is configured again", vault)})
	}
	if aws > 0 && !c.AWS.Vaults {
		r.report(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf("aws_secrets_manager: %d AWS vault(s) exist but LEDGER_AWS_VAULTS is off "+
			"(and PAPERCLIP_SECRETS_PROVIDER is not aws_secrets_manager): their secrets are refused (provider_guardrail) "+
			"until LEDGER_AWS_VAULTS=on", aws)})
	}
}

// refNamer names an external reference as the guardrail compares it: a vault
// reference as [namespace/]mount/path in its vault's (or the deployment's) namespace and
// mount, an AWS one as the secret name it denotes.
func refNamer(p *placement.Placer, vaults []queries.Vault) func(provider, vaultID, ref string) string {
	byID := make(map[string]queries.Vault, len(vaults))
	for _, v := range vaults {
		byID[v.ID] = v
	}
	return func(provider, vaultID, ref string) string {
		if provider != providers.HashiCorpVault {
			return awssm.RefName(ref)
		}
		c := p.VaultDefaults
		if v, ok := byID[vaultID]; ok {
			c = p.VaultConfig(v)
		}
		mount := c.Mount
		if mount == "" {
			mount = vaultkv.DefaultMount
		}
		return vaultkv.RefName(c.Namespace, mount, ref)
	}
}
