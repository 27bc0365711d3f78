package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/migrations"
)

// readinessChecks are /readyz's checks of the database: reachable, and its schema
// current.
func readinessChecks(pool *pgxpool.Pool, db *database.Database) []httpapi.Check {
	return []httpapi.Check{
		{Name: "database", Run: func(ctx context.Context) (string, error) {
			if err := pool.Ping(ctx); err != nil {
				return "", ledgererr.Wrap(err, ledgererr.Unavailable, "database unreachable")
			}
			return "reachable", nil
		}},
		{Name: "migrations", Run: func(ctx context.Context) (string, error) {
			// Over the runtime pool: serve keeps no owner's connection while serving.
			var st migrations.Status
			err := pool.AcquireFunc(ctx, func(c *pgxpool.Conn) (err error) {
				st, err = db.MigrationStatusOn(ctx, c.Conn())
				return err
			})
			return MigrationDetail(st, err)
		}},
	}
}

// MigrationDetail is the migration state as readiness and doctor report it: an error
// while it is not current.
func MigrationDetail(st migrations.Status, err error) (string, error) {
	var ce *migrations.ChecksumError
	switch {
	case errors.As(err, &ce):
		return "", ledgererr.Wrap(err, ledgererr.Unavailable, "%s was edited after it was applied", ce.Name)
	case err != nil:
		return "", ledgererr.Wrap(err, ledgererr.Unavailable, "migration state unknown")
	case !st.Current():
		return "", ledgererr.New(ledgererr.Unavailable, "%d pending migration(s); run secretsledger migrate", len(st.Pending))
	}
	return fmt.Sprintf("current (%d applied)", len(st.Applied)), nil
}
