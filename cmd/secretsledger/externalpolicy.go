package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/queries"
)

// policiesAPI is the external-reference policy part of the API.
func policiesAPI(env *environment, l *ledger) httpapi.Policies {
	return httpapi.Policies{Commands: l.commands.Policies, Queries: queries.ExternalPolicies{DB: l.pool},
		InstancePrefixes: env.cfg.AWS.ExternalPrefixes}
}

// approveHeldReferences gives each company that held external references (or AWS
// vaults) when policies came, and has no policy yet, a policy approving exactly what it
// held (see migrations/0014_external_policy_upgrade.sql and commands.ApproveHeld). Once
// each such company has a policy, this only reads the short upgrade table.
func approveHeldReferences(ctx context.Context, env *environment, l *ledger) error {
	rows, _ := l.pool.Query(ctx, `SELECT company_id, kind, value FROM ledger_external_policy_upgrade ORDER BY company_id, kind, value`)
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
	n, err := l.commands.Policies.ApproveHeld(ctx, held)
	if err != nil {
		return fmt.Errorf("external-policy upgrade: %w", err)
	}
	if n > 0 {
		env.log.Info("external references held before policies were approved as exact references", "companies", n)
	}
	return nil
}
