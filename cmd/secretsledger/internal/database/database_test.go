package database_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/integritykey"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
	"github.com/secretsledger/secretsledger/queries"
)

// openApp opens a fresh embedded instance through the application, as serve does (the
// pool connects as the runtime role), with its integrity key, and runs the store's
// writer.
func openApp(t *testing.T) *app.App {
	t.Helper()
	pgtest.SkipIfShort(t)
	home := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"LEDGER_HOME": home, localenc.EnvMasterKey: strings.Repeat("ab", 32)}[k]
	}
	cfg := config.FromEnv(getenv)
	log := slog.New(slog.DiscardHandler)
	if _, err := integritykey.Load(cfg, log, true); err != nil { // serve creates it on first start
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := app.Open(ctx, app.Options{Config: cfg, Log: log, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	stop, err := a.RunWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return a
}

// The credentials serve's pool uses cannot rewrite history in any of the ways an
// attacker holding them would try, but do everything the ledger does while serving.
func TestRuntimeRoleCannotRewriteHistory(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	db := a.DB
	if db.URL == db.MigrationURL || db.RuntimeRole != pgembed.RuntimeUser {
		t.Fatalf("embedded mode: runtime role %q, runtime URL is the owner's: %v", db.RuntimeRole, db.URL == db.MigrationURL)
	}
	events := runCommandsAsRuntimeRole(t, a)
	attemptRewritesAsRuntimeRole(t, db, events)
	checkDoctorSeesRuntimeRole(t, db)
}

// runCommandsAsRuntimeRole runs the normal command flow over the application's runtime
// pool: append (INSERT, SELECT on the log), inline projections, the local_encrypted
// material, queries. It returns the number of events in the sealed log afterwards.
func runCommandsAsRuntimeRole(t *testing.T, a *app.App) int {
	t.Helper()
	ctx := context.Background()
	pool, local, h := a.Pool, a.Local, a.Commands.Secrets
	board := commands.Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}
	value := func(s string) *providers.Value { v := providers.NewValue([]byte(s)); return &v }

	created, err := h.Create(ctx, board, commands.CreateSecret{CompanyID: "co", Name: "db password", Value: value("v1")})
	if err != nil {
		t.Fatalf("create as the runtime role: %v", err)
	}
	if _, err := h.Rotate(ctx, board, commands.RotateSecret{SecretID: created.SecretID, Value: value("v2")}); err != nil {
		t.Fatalf("rotate as the runtime role: %v", err)
	}
	q := queries.Secrets{DB: pool}
	list, err := q.List(ctx, board.Actor, "co", queries.SecretFilter{}, queries.PageRequest{})
	if err != nil || len(list.Items) != 1 || list.Items[0].LatestVersion != 2 {
		t.Fatalf("read model as the runtime role: %+v, %v", list, err)
	}
	page, err := q.Versions(ctx, board.Actor, created.SecretID, queries.PageRequest{})
	versions := page.Items
	if err != nil || len(versions) != 2 {
		t.Fatalf("versions: %+v, %v", versions, err)
	}
	got, err := local.Resolve(ctx, providers.Ref{CompanyID: "co", SecretID: created.SecretID, Version: 2}, *versions[0].ProviderVersionRef)
	if err != nil || string(got.Reveal()) != "v2" {
		t.Fatalf("resolve as the runtime role: %v", err)
	}
	if _, err := h.Delete(ctx, board, created.SecretID); err != nil {
		t.Fatalf("delete as the runtime role: %v", err)
	}
	if _, err := h.Purge(ctx, board, created.SecretID, created.SecretID); err != nil {
		t.Fatalf("purge (crypto-shredding) as the runtime role: %v", err)
	}
	// The attempts below target the sealed log: wait for the sealer to chain what the
	// commands appended.
	if _, err := a.Store.SealedThrough(ctx); err != nil {
		t.Fatal(err)
	}
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_events`).Scan(&events); err != nil || events < 4 {
		t.Fatalf("events: %d, %v", events, err)
	}
	return events
}

// attemptRewritesAsRuntimeRole tries what an attacker with the runtime credentials
// would, and checks that each is refused and the log still holds its events.
func attemptRewritesAsRuntimeRole(t *testing.T, db *database.Database, events int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`DELETE FROM ledger_events`,
		`UPDATE ledger_events SET payload = '{}'`,
		`TRUNCATE ledger_events`,
		`ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_no_update_delete`,
		`ALTER TABLE ledger_events DISABLE TRIGGER ALL`,
		`SET session_replication_role = replica`,
		`DROP TABLE ledger_events`,
		`DROP TRIGGER ledger_events_no_update_delete ON ledger_events`,
		`CREATE TABLE public.shadow (id int)`,
		`CREATE TRIGGER t BEFORE INSERT ON ledger_events FOR EACH ROW EXECUTE FUNCTION ledger_events_refuse_change()`,
		`TRUNCATE company_secrets`,
		`ALTER ROLE ` + pgembed.RuntimeUser + ` SUPERUSER`,
		`CREATE ROLE other LOGIN`,
		`CREATE DATABASE other`,
	} {
		_, err := conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" { // insufficient_privilege
			t.Errorf("%s as the runtime role: %v, want permission denied", stmt, err)
		}
	}
	// A GRANT without grant option is only a warning; it must change nothing.
	if _, err := conn.Exec(ctx, `GRANT UPDATE ON ledger_events TO PUBLIC`); err != nil {
		t.Fatal(err)
	}
	var canUpdate bool
	if err := conn.QueryRow(ctx, `SELECT has_table_privilege('ledger_events', 'UPDATE')`).Scan(&canUpdate); err != nil || canUpdate {
		t.Fatalf("the runtime role granted itself UPDATE on ledger_events: %v, %v", canUpdate, err)
	}
	var after int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM ledger_events`).Scan(&after); err != nil || after != events {
		t.Fatalf("events after the attempts: %d (was %d), %v", after, events, err)
	}
}

// checkDoctorSeesRuntimeRole checks doctor's check: clean for the runtime role, and it
// names what the owner could do.
func checkDoctorSeesRuntimeRole(t *testing.T, db *database.Database) {
	t.Helper()
	ctx := context.Background()
	rc, err := db.CheckRuntimeRole(ctx)
	if err != nil || rc.Role != pgembed.RuntimeUser || len(rc.Problems) != 0 {
		t.Fatalf("CheckRuntimeRole: %+v, %v", rc, err)
	}
	asOwner := &database.Database{URL: db.MigrationURL}
	rc, err = asOwner.CheckRuntimeRole(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"is a superuser", "owns ledger_events", "has UPDATE on ledger_events",
		"has TRUNCATE on ledger_events", "can set session_replication_role"} {
		if !slices.Contains(rc.Problems, want) {
			t.Errorf("CheckRuntimeRole for the owner: %v, missing %q", rc.Problems, want)
		}
	}
}
