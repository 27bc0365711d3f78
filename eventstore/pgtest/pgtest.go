package pgtest

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/migrations"
)

var (
	once    sync.Once
	server  *pgembed.Server
	home    string
	initErr error
	durable bool
	seq     struct {
		sync.Mutex
		n int
	}
)

// Main runs the tests of a package and stops the shared cluster afterwards. Call it
// from TestMain: os.Exit(pgtest.Main(m)).
//
// When benchmarks run (-test.bench), the cluster keeps fsync on, so that figures are
// those of a durable database; tests run with fsync off for speed.
func Main(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		durable = true
	}
	code := m.Run()
	if server != nil {
		_ = server.Stop(context.Background())
	}
	if home != "" {
		_ = os.RemoveAll(home)
	}
	return code
}

// SkipIfShort skips the test under -short: it needs a real PostgreSQL (the shared
// cluster, an instance's embedded one, or the binary's), which the fast tier never
// starts. Every helper of this package calls it; a test that starts PostgreSQL
// another way calls it first.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL: skipped under -short")
	}
}

func cluster(t testing.TB) *pgembed.Server {
	t.Helper()
	SkipIfShort(t)
	once.Do(func() {
		removeAbandoned()
		home, initErr = os.MkdirTemp("", "secretsledger-pgtest-")
		if initErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		settings := map[string]string{"max_connections": "300"}
		if !durable {
			// Test databases are scratch: durability is not what tests check.
			settings["fsync"] = "off"
		}
		server, initErr = pgembed.Open(ctx, pgembed.Options{
			Dir:      home + "/db",
			Settings: settings,
			Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if initErr == nil {
			initErr = closeTemplate(ctx)
		}
	})
	if initErr != nil {
		t.Fatalf("pgtest: start embedded PostgreSQL: %v", initErr)
	}
	return server
}

// removeAbandoned stops and removes the clusters of earlier test binaries that
// crashed before they could stop them (their instance lock is free).
func removeAbandoned() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "secretsledger-pgtest-*"))
	for _, d := range dirs {
		// A cluster being set up right now has a fresh directory and no lock yet.
		if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if abandoned, err := pgembed.StopAbandoned(filepath.Join(d, "db"), slog.New(slog.DiscardHandler)); err == nil && abandoned {
			_ = os.RemoveAll(d)
		}
	}
}

// closeTemplate takes CREATE on the public schema away from PUBLIC in template1, as
// pgembed does in the ledger's database, so that test databases (copies of template1)
// match an instance's database on every PostgreSQL version.
func closeTemplate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, strings.Replace(server.URL(), "/"+pgembed.DefaultDatabase+"?", "/template1?", 1))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	return err
}

// AdminURL returns the superuser URL of database db on the shared cluster.
func AdminURL(t testing.TB, db string) string {
	t.Helper()
	s := cluster(t)
	return strings.Replace(s.URL(), "/"+pgembed.DefaultDatabase+"?", "/"+db+"?", 1)
}

// NewDatabase creates an empty database for this test and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	seq.Lock()
	seq.n++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), seq.n)
	seq.Unlock()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, AdminURL(t, "postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return AdminURL(t, name)
}

// NewMigratedPool creates a database for this test, applies every migration and
// returns a pool on it, closed when the test ends.
func NewMigratedPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	r, err := migrations.NewRunner(migrations.Files())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := r.Apply(ctx, conn); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return NewPool(t, url), url
}

// RuntimeURL gives pgembed.RuntimeUser (the unprivileged role the shared cluster has,
// as every embedded instance does) the runtime privileges on the migrated database at
// ownerURL, exactly as the ledger does after migrating, and returns that role's URL of
// the database: what `secretsledger serve` connects as.
func RuntimeURL(t testing.TB, ownerURL string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := migrations.GrantRuntime(ctx, conn, pgembed.RuntimeUser); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return RuntimeUserURL(t, ownerURL)
}

// RuntimeUserURL returns pgembed.RuntimeUser's URL of the database at ownerURL, granting
// nothing: for a ledger that migrates the database and grants the runtime privileges
// itself.
func RuntimeUserURL(t testing.TB, ownerURL string) string {
	t.Helper()
	owner, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u, err := url.Parse(cluster(t).RuntimeURL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = owner.Path
	return u.String()
}

// NewPool opens a pool on url, closed when the test ends.
func NewPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
