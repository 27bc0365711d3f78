package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/projections"
)

// catchUpProjections rebuilds the read models when they are behind the log: projections
// run inside the append transaction, so this only happens after an upgrade that adds
// or changes a projection.
func (a *App) catchUpProjections(ctx context.Context) error {
	head, err := a.Store.HeadPosition(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, p := range projections.All() {
		names = append(names, p.Name())
	}
	// The oldest checkpoint; a projection without one (new in this version) counts as 0.
	var checkpoint int64
	err = a.Pool.QueryRow(ctx, `SELECT CASE WHEN count(*) = cardinality($1::text[]) THEN min(position) ELSE 0 END
		FROM projection_checkpoints WHERE projection = ANY($1)`, names).Scan(&checkpoint)
	if err != nil || checkpoint >= head {
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
	a.opts.Log.Info("rebuilt read models that were behind the log", "events", n, "checkpoint", checkpoint, "head", head)
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
