package database

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/migrations"
)

// Database is where the ledger's data lives, and as whom the ledger connects.
type Database struct {
	// URL is the runtime role's connection URL: the only one serve's pool uses.
	URL string
	// MigrationURL is the owner's connection URL: migrations, grants and operator
	// commands.
	MigrationURL string
	// RuntimeRole is the role Migrate and GrantRuntime give the runtime privileges to;
	// empty when URL connects as the owner itself, who cannot be restricted.
	RuntimeRole string
	// Embedded is the instance's own cluster; nil with DATABASE_URL.
	Embedded *pgembed.Server
	// Migrations is the schema to apply; nil means the files shipped in the binary.
	Migrations fs.FS
}

// Open finds the database: with DATABASE_URL it only records the URLs; without, it
// starts the instance's embedded PostgreSQL (or attaches to it when another ledger
// process of the instance runs it).
func Open(ctx context.Context, cfg config.Config, dir instance.Dir, log *slog.Logger) (*Database, error) {
	if !cfg.Embedded() {
		role, err := runtimeRole(cfg.DatabaseURL, cfg.MigrationTarget())
		if err != nil {
			return nil, err
		}
		return &Database{URL: cfg.DatabaseURL, MigrationURL: cfg.MigrationTarget(), RuntimeRole: role}, nil
	}
	srv, err := pgembed.Open(ctx, pgembed.Options{
		Dir:    dir.DB(),
		BinDir: cfg.PostgresBin, // empty: pgembed searches
		Port:   cfg.PostgresPort,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return &Database{URL: srv.RuntimeURL(), MigrationURL: srv.URL(), RuntimeRole: pgembed.RuntimeUser, Embedded: srv}, nil
}

// runtimeRole is DATABASE_URL's user when it differs from the migration URL's, else
// empty: with one user for both there is no separate role to grant to.
func runtimeRole(runtimeURL, migrationURL string) (string, error) {
	rt, err := pgconn.ParseConfig(runtimeURL)
	if err != nil {
		return "", errors.New("DATABASE_URL cannot be parsed")
	}
	mg, err := pgconn.ParseConfig(migrationURL)
	if err != nil {
		return "", errors.New("DATABASE_MIGRATION_URL cannot be parsed")
	}
	if rt.User == mg.User {
		return "", nil
	}
	return rt.User, nil
}

// CheckBinaries fails with a *pgembed.NotFoundError when the embedded mode cannot find
// PostgreSQL; it is a no-op with DATABASE_URL.
func CheckBinaries(cfg config.Config) error {
	if !cfg.Embedded() {
		return nil
	}
	_, err := pgembed.FindBinaries(cfg.PostgresBin)
	return err
}

// Close stops the embedded cluster when this process started it.
func (d *Database) Close(ctx context.Context) error {
	if d.Embedded == nil {
		return nil
	}
	return d.Embedded.Stop(ctx)
}

// Migrate applies pending migrations over the migration URL, then grants the runtime
// privileges (so that tables a migration added get them at once).
func (d *Database) Migrate(ctx context.Context) ([]migrations.Migration, error) {
	var applied []migrations.Migration
	err := d.withMigrationConn(ctx, func(r *migrations.Runner, conn *pgx.Conn) (err error) {
		if applied, err = r.Apply(ctx, conn); err != nil {
			return err
		}
		return d.grant(ctx, conn)
	})
	return applied, err
}

// GrantRuntime gives RuntimeRole exactly the runtime privileges (see
// migrations.GrantRuntime) over the migration URL. It is idempotent; the ledger runs it
// on every start, so an instance created before the roles were split is brought up to
// date by its next start.
func (d *Database) GrantRuntime(ctx context.Context) error {
	if d.RuntimeRole == "" {
		return nil
	}
	return d.withMigrationConn(ctx, func(_ *migrations.Runner, conn *pgx.Conn) error {
		return d.grant(ctx, conn)
	})
}

func (d *Database) grant(ctx context.Context, conn *pgx.Conn) error {
	if d.RuntimeRole == "" {
		return nil
	}
	return migrations.GrantRuntime(ctx, conn, d.RuntimeRole)
}

// MigrationStatus compares the embedded migration files with the database.
func (d *Database) MigrationStatus(ctx context.Context) (migrations.Status, error) {
	var st migrations.Status
	err := d.withMigrationConn(ctx, func(r *migrations.Runner, conn *pgx.Conn) (err error) {
		st, err = r.Status(ctx, conn)
		return err
	})
	return st, err
}

// MigrationStatusOn is MigrationStatus over conn, e.g. one of the runtime pool's (the
// runtime role may read schema_migrations).
func (d *Database) MigrationStatusOn(ctx context.Context, conn *pgx.Conn) (migrations.Status, error) {
	r, err := migrations.NewRunner(d.files())
	if err != nil {
		return migrations.Status{}, err
	}
	return r.Status(ctx, conn)
}

func (d *Database) files() fs.FS {
	if d.Migrations == nil {
		return migrations.Files()
	}
	return d.Migrations
}

// AsOwner runs fn on one connection as the owner (over the migration URL): what the
// runtime role may not do, such as writing board tokens.
func (d *Database) AsOwner(ctx context.Context, fn func(*pgx.Conn) error) error {
	return d.withMigrationConn(ctx, func(_ *migrations.Runner, conn *pgx.Conn) error { return fn(conn) })
}

func (d *Database) withMigrationConn(ctx context.Context, fn func(*migrations.Runner, *pgx.Conn) error) error {
	r, err := migrations.NewRunner(d.files())
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, d.MigrationURL)
	if err != nil {
		// pgx's connect errors name host and cause, never the password.
		return fmt.Errorf("connect to the database for migrations: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(r, conn)
}
