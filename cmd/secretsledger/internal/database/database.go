package database

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/migrations"
)

// Database is where the ledger's data lives.
type Database struct {
	// URL is the runtime connection URL.
	URL string
	// MigrationURL is the URL migrations run against.
	MigrationURL string
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
		return &Database{URL: cfg.DatabaseURL, MigrationURL: cfg.MigrationTarget()}, nil
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
	return &Database{URL: srv.URL(), MigrationURL: srv.URL(), Embedded: srv}, nil
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

// Migrate applies pending migrations over the migration URL.
func (d *Database) Migrate(ctx context.Context) ([]migrations.Migration, error) {
	var applied []migrations.Migration
	err := d.withMigrationConn(ctx, func(r *migrations.Runner, conn *pgx.Conn) (err error) {
		applied, err = r.Apply(ctx, conn)
		return err
	})
	return applied, err
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

func (d *Database) withMigrationConn(ctx context.Context, fn func(*migrations.Runner, *pgx.Conn) error) error {
	files := d.Migrations
	if files == nil {
		files = migrations.Files()
	}
	r, err := migrations.NewRunner(files)
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
