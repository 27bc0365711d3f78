package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/projections"
)

// catchUpProjections rebuilds the read models when a projection was never built: the
// projections run inside the append transaction, so this only happens after an upgrade
// that adds or changes (renames) a projection. A projection's checkpoint is written by
// a rebuild, or here at 0 for an empty log; appends do not move it.
func (a *App) catchUpProjections(ctx context.Context) error {
	var names []string
	for _, p := range projections.All() {
		names = append(names, p.Name())
	}
	var missing, events int64
	err := a.Pool.QueryRow(ctx, `SELECT cardinality($1::text[]) - (SELECT count(*) FROM projection_checkpoints WHERE projection = ANY($1)),
		(SELECT count(*) FROM (SELECT 1 FROM ledger_log LIMIT 1) l)`, names).Scan(&missing, &events)
	if err != nil || missing == 0 {
		return err
	}
	if events == 0 {
		_, err := a.Pool.Exec(ctx, `INSERT INTO projection_checkpoints (projection, position) SELECT unnest($1::text[]), 0
			ON CONFLICT (projection) DO NOTHING`, names)
		return err
	}
	// Rebuilding truncates the read models, which the runtime role may not: it runs as
	// the owner, on a pool of its own that lives as long as the rebuild.
	owner, err := pgxpool.New(ctx, a.DB.MigrationURL)
	if err != nil {
		return fmt.Errorf("open an owner's pool to rebuild the read models: %w", err)
	}
	defer owner.Close()
	n, err := projections.Rebuild(ctx, owner, projections.All())
	a.opts.Log.Info("rebuilt read models that were never built", "events", n)
	return err
}

// approveHeldReferences gives each company that held external references (or AWS
// vaults) when policies came, and has no policy yet, a policy approving exactly what it
// held (see migrations/0014_external_policy_upgrade.sql and commands.ApproveHeld). Once
// each such company has a policy, this only reads the short upgrade table.
func (a *App) approveHeldReferences(ctx context.Context) error {
	rows, _ := a.Pool.Query(ctx, `SELECT company_id, kind, value FROM ledger_external_policy_upgrade ORDER BY company_id, kind, value`)
	held := map[string]commands.ExternalPolicy{}
	var company, kind, value string
	_, err := pgx.ForEachRow(rows, []any{&company, &kind, &value}, func() error {
		p := held[company]
		switch kind {
		case "reference":
			p.References = append(p.References, value)
		case "region":
			p.Regions = append(p.Regions, value)
		case "namespace":
			p.Namespaces = append(p.Namespaces, value)
		}
		held[company] = p
		return nil
	})
	if err != nil {
		return fmt.Errorf("external-policy upgrade: %w", err)
	}
	n, err := a.Commands.Policies.ApproveHeld(ctx, held)
	if err != nil {
		return fmt.Errorf("external-policy upgrade: %w", err)
	}
	if n > 0 {
		a.opts.Log.Info("external references held before policies were approved as exact references", "companies", n)
	}
	return nil
}
