package database_test

import (
	"testing"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
)

// psql, pg_dump and pg_restore refuse the parameters only pgx reads.
func TestDBURLLeavesOutPgxParameters(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:6432/db?default_query_exec_mode=cache_describe&sslmode=disable": "postgres://u:p@h:6432/db?sslmode=disable",
		"postgres://u@h/db?pool_max_conns=10&statement_cache_capacity=0":                  "postgres://u@h/db",
		"postgres://u@h/db?sslmode=require":                                               "postgres://u@h/db?sslmode=require",
		"host=h user=u dbname=db":                                                         "host=h user=u dbname=db",
	} {
		if got := database.LibpqURL(in); got != want {
			t.Fatalf("LibpqURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// An external database's URLs are the configured ones: the owner's is the migration URL
// when there is one.
func TestURLOfAnExternalDatabase(t *testing.T) {
	const runtime, owner = "postgres://app@db/ledger", "postgres://owner@db/ledger"
	for _, tc := range []struct {
		cfg   config.Config
		owner bool
		want  string
	}{
		{config.Config{DatabaseURL: runtime, MigrationURL: owner}, false, runtime},
		{config.Config{DatabaseURL: runtime, MigrationURL: owner}, true, owner},
		{config.Config{DatabaseURL: runtime}, true, runtime},
	} {
		if got, err := database.URL(tc.cfg, tc.owner); err != nil || got != tc.want {
			t.Fatalf("URL(%+v, owner %v) = %q, %v; want %q", tc.cfg, tc.owner, got, err, tc.want)
		}
	}
}
