package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AwaitNoHolder waits until no process holds an unexpired lease of any role on db, and
// returns "" then, or a holder whose lease outlasts limit. Every running ledger server
// takes the roles among its peers, so a lease that keeps being renewed means a server
// runs on the database; operator commands that must not run beside one (a rekey) ask
// this. A server that stopped usually released its roles, but one that died, or whose
// release did not get through, leaves leases that expire within the TTL: hence the wait
// (with limit the TTL, a live holder is named within about the TTL).
func AwaitNoHolder(ctx context.Context, db DB, limit time.Duration) (string, error) {
	start := time.Now()
	for {
		var holder string
		var left time.Duration
		err := db.QueryRow(ctx, `SELECT holder, expires_at - now() FROM ledger_leases WHERE expires_at > now()
			ORDER BY expires_at DESC LIMIT 1`).Scan(&holder, &left)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("lease: read the holders: %w", err)
		}
		if time.Since(start)+left > limit {
			return holder, nil
		}
		sleep(ctx, left+50*time.Millisecond) // the database's clock decides the expiry
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
}
