package doctor

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/providers/awssm"
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
	a := r.in.Config.AWS
	placer := &placement.Placer{Vaults: queries.Vaults{DB: pool}, AWSDefaults: awssm.Config{Prefix: a.Prefix, DeploymentID: a.DeploymentID}}
	vaults, err := placer.Vaults.AWSVaultConfigs(ctx)
	if err == nil && len(vaults) > 0 && !a.Vaults {
		r.report(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf("aws_secrets_manager: %d AWS vault(s) exist but LEDGER_AWS_VAULTS is off "+
			"(and PAPERCLIP_SECRETS_PROVIDER is not aws_secrets_manager): their secrets are refused (provider_guardrail) "+
			"until LEDGER_AWS_VAULTS=on", len(vaults))})
	}
	namespaces, err := placer.ManagedNamespaces(ctx)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %v", err)})
		return
	}
	rows, err := conn.Query(ctx, `SELECT DISTINCT s.company_id, s.id, v.external_ref FROM company_secrets s
		JOIN company_secret_versions v ON v.secret_id = s.id
		WHERE s.managed_mode = 'external_reference' AND s.deleted_at IS NULL AND v.external_ref IS NOT NULL
		ORDER BY s.company_id, s.id`)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("external references: %v", err)})
		return
	}
	refused := 0
	var company, id, ref string
	_, err = pgx.ForEachRow(rows, []any{&company, &id, &ref}, func() error {
		if !commands.UnderNamespace(awssm.RefName(ref), namespaces) {
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
