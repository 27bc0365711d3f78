package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// psqlOwner is psql as the owner (`db url --owner`).
func (e *instanceEnv) psqlOwner(t *testing.T, sql string) (string, error) {
	t.Helper()
	return e.psqlAs(t, sql, "--owner")
}

// serverUsers polls until every other client connection to the instance's database
// is of one user and returns it: serve's pool, once the owner's connections of the
// start-up (migrations, grants) have gone.
func (e *instanceEnv) serverUsers(t *testing.T) string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		out, err = e.psqlOwner(t, `SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Fatalf("pg_stat_activity: %v\n%s", err, out)
		}
		if out = strings.TrimSpace(out); out != "" && !strings.Contains(out, ",") {
			return out
		}
	}
	return out
}

// serve's pool connects as ledger_runtime, which is neither a superuser nor the owner,
// cannot change the log, and is what the whole API works with; an instance from before
// the roles were split gets the role and its grants at its next start.
func TestServeRunsAsTheRuntimeRole(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "before", "value": "v"}`).json(t)["id"].(string)

	if users := e.serverUsers(t); users != pgembed.RuntimeUser {
		t.Fatalf("serve's connections are %q, want only %s", users, pgembed.RuntimeUser)
	}
	out, err := e.psql(t, `SELECT r.rolsuper, pg_get_userbyid(c.relowner) = current_user, current_user
		FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'ledger_events'::regclass`)
	if err != nil || strings.Join(strings.Fields(out), " ") != "f | f | "+pgembed.RuntimeUser {
		t.Fatalf("the runtime URL's role (superuser | owner | name): %v\n%s", err, out)
	}
	for _, stmt := range []string{`DELETE FROM ledger_events`, `SET session_replication_role = replica`,
		`ALTER TABLE ledger_events DISABLE TRIGGER ALL`} {
		if out, err := e.psql(t, stmt); err == nil || !(strings.Contains(out, "denied") || strings.Contains(out, "must be owner")) {
			t.Fatalf("%s through `db url`: %v\n%s", stmt, err, out)
		}
	}
	code, out, errOut := e.run(t, "doctor")
	if code != 0 || !strings.Contains(out, "ok   runtime role ledger_runtime cannot alter ledger_events") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	s.stop(t)

	// Make the instance look like one from before the split: no runtime role, no
	// password file; and read models without a checkpoint, as after an upgrade that adds
	// a projection, so the start rebuilds them (as the owner: the runtime role may not
	// truncate).
	dbDir := filepath.Join(e.home, "instances", "default", "db")
	ctx := context.Background()
	cluster, err := pgembed.Open(ctx, pgembed.Options{Dir: dbDir})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP OWNED BY " + pgembed.RuntimeUser, "DROP ROLE " + pgembed.RuntimeUser,
		"DELETE FROM projection_checkpoints"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	conn.Close(ctx)
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dbDir, "runtime-password")); err != nil {
		t.Fatal(err)
	}

	s = e.serve(t)
	e.waitReady(t, s)
	if !strings.Contains(s.stderr.String(), "rebuilt read models that were never built") {
		t.Fatalf("the start did not rebuild the read models:\n%s", s.stderr)
	}
	api.must(200, "GET", "/api/secrets/"+id, "")
	api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "after", "value": "v"}`)
	if users := e.serverUsers(t); users != pgembed.RuntimeUser {
		t.Fatalf("after the upgrade serve's connections are %q, want only %s", users, pgembed.RuntimeUser)
	}
	s.stop(t)
}

// With DATABASE_URL for a role of its own and DATABASE_MIGRATION_URL for the owner, the
// ledger migrates as the owner, grants the runtime role its privileges and serves as
// it; doctor finds the role safe. With one superuser URL for both, doctor warns.
func TestExternalDatabaseWithARuntimeRole(t *testing.T) {
	t.Parallel()
	owner := pgtest.NewDatabase(t)
	runtime := pgtest.RuntimeURL(t, owner) // an existing login role; nothing to grant yet
	e := newInstance(t)
	e.vars = []string{"DATABASE_URL=" + runtime, "DATABASE_MIGRATION_URL=" + owner}
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "k", "value": "v"}`).json(t)["id"].(string)
	api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "v2"}`)

	conn, err := pgx.Connect(context.Background(), runtime)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `DELETE FROM ledger_events`); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("DELETE as DATABASE_URL's role: %v", err)
	}
	code, out, errOut := e.run(t, "doctor")
	if code != 0 || !strings.Contains(out, "ok   runtime role ledger_runtime cannot alter ledger_events") || strings.Contains(out, "WARN runtime role") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	_, url, _ := e.run(t, "db", "url")
	_, ownerURL, _ := e.run(t, "db", "url", "--owner")
	if strings.TrimSpace(url) != runtime || strings.TrimSpace(ownerURL) != owner {
		t.Fatal("db url [--owner] does not print DATABASE_URL [DATABASE_MIGRATION_URL]")
	}
	s.stop(t)

	e.vars = []string{"DATABASE_URL=" + owner}
	code, out, errOut = e.run(t, "doctor")
	if code != 0 || !strings.Contains(out, "WARN runtime role secretsledger can alter ledger_events: it is a superuser, owns ledger_events") ||
		!strings.Contains(out, "DATABASE_MIGRATION_URL") {
		t.Fatalf("doctor with the owner as DATABASE_URL: exit %d\n%s\n%s", code, out, errOut)
	}
}
