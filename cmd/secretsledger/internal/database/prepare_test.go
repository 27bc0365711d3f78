package database_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// serve migrates an empty database by itself, but stops on a database with pending
// migrations unless --migrate is given.
func TestEnsureMigrated(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	v1 := fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (id int)")}}
	v2 := fstest.MapFS{"0001_a.sql": v1["0001_a.sql"], "0002_b.sql": {Data: []byte("CREATE TABLE b (id int)")}}

	db := &database.Database{URL: url, MigrationURL: url, Migrations: v1}
	if err := db.EnsureMigrated(ctx, log, false); err != nil {
		t.Fatalf("empty database: %v", err)
	}
	db.Migrations = v2
	err := db.EnsureMigrated(ctx, log, false)
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") || !strings.Contains(err.Error(), "secretsledger migrate") ||
		!strings.Contains(err.Error(), "--migrate") {
		t.Fatalf("pending migration without --migrate: %v", err)
	}
	if st, _ := db.MigrationStatus(ctx); len(st.Pending) != 1 {
		t.Fatalf("the refusal applied something: %+v", st)
	}
	if err := db.EnsureMigrated(ctx, log, true); err != nil {
		t.Fatalf("with --migrate: %v", err)
	}
	if st, err := db.MigrationStatus(ctx); err != nil || !st.Current() {
		t.Fatalf("after --migrate: %+v, %v", st, err)
	}
}
