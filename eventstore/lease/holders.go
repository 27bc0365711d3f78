package lease

import (
	"context"
	"fmt"
)

// AnyHolder returns a process that holds an unexpired lease of any role on db, or ""
// when none does. Every running ledger server takes the roles among its peers, so a
// holder means a server runs on the database: operator commands that must not run
// beside one (a rekey) ask it. A server that died holding a role counts until the
// lease expires (LEDGER_LEASE_TTL); one that stopped cleanly released its roles.
func AnyHolder(ctx context.Context, db DB) (string, error) {
	var holder string
	if err := db.QueryRow(ctx, `SELECT coalesce(min(holder), '') FROM ledger_leases WHERE expires_at > now()`).Scan(&holder); err != nil {
		return "", fmt.Errorf("lease: read the holders: %w", err)
	}
	return holder, nil
}
