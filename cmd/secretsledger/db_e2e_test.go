package main

import (
	"os"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// psql runs one statement through the real psql client against `secretsledger db url`
// (the runtime role), as an operator would.
func (e *instanceEnv) psql(t *testing.T, sql string) (string, error) {
	t.Helper()
	return e.psqlAs(t, sql)
}

// psqlAs is psql with more `db url` flags.
func (e *instanceEnv) psqlAs(t *testing.T, sql string, flags ...string) (string, error) {
	t.Helper()
	code, url, errOut := e.run(t, append([]string{"db", "url"}, flags...)...)
	if code != 0 {
		t.Fatalf("db url: exit %d\n%s", code, errOut)
	}
	out, err := runPGClient(t, "psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-c", sql)
	return string(out), err
}

func TestOperatorWorkflowThroughPsql(t *testing.T) {
	t.Parallel()
	e := newInstance(t)

	code, out, errOut := e.run(t, "migrate")
	if code != 0 || !strings.Contains(out, "applied 0001_ledger_events.sql") {
		t.Fatalf("first migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = e.run(t, "migrate")
	if code != 0 || !strings.Contains(out, "no pending migrations") || strings.Contains(out, "applied") {
		t.Fatalf("second migrate applied something: exit %d\n%s", code, out)
	}

	s := e.serve(t)
	e.waitReady(t, s)

	// With the runtime role's URL an operator can add a row but never change one: the
	// role lacks the privilege. With the owner's, the trigger refuses.
	if out, err := e.psql(t, `INSERT INTO ledger_events VALUES (1, '01J0000000000000000000000A', 's', 1, 'x.y', 1, 'co', '{}', '{}', now(), '\x00', '\x00')`); err != nil {
		t.Fatalf("insert: %v\n%s", err, out)
	}
	for _, stmt := range []string{`UPDATE ledger_events SET payload = '{"a": 1}'`, `DELETE FROM ledger_events`} {
		out, err := e.psql(t, stmt)
		if err == nil || !strings.Contains(out, "permission denied") {
			t.Fatalf("%s as the runtime role was not refused: %v\n%s", stmt, err, out)
		}
		out, err = e.psqlOwner(t, stmt)
		if err == nil || !strings.Contains(out, "append-only") {
			t.Fatalf("%s as the owner was not refused: %v\n%s", stmt, err, out)
		}
	}

	// The row added as the runtime role is not the ledger's: doctor finds it forged, and
	// nothing else.
	code, out, errOut = e.run(t, "doctor")
	if code != 1 || strings.Count(out, "FAIL") != 1 || !strings.Contains(out, "FAIL event MACs: forged: the event at position 1 ") ||
		!strings.Contains(out, "migrations: current") {
		t.Fatalf("doctor after a row added as the runtime role: exit %d\n%s\n%s", code, out, errOut)
	}

	// Someone edits an applied migration (here: its recorded checksum no longer matches
	// the file): migrate, serve and doctor refuse, naming the file.
	if out, err := e.psqlOwner(t, `UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`); err != nil {
		t.Fatalf("tamper: %v\n%s", err, out)
	}
	s.stop(t)
	code, out, errOut = e.run(t, "migrate")
	if code != 1 || !strings.Contains(errOut, "0001_ledger_events.sql was edited") {
		t.Fatalf("migrate with an edited migration: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = e.run(t, "serve")
	if code != 1 || !strings.Contains(errOut, "0001_ledger_events.sql was edited") {
		t.Fatalf("serve with an edited migration: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = e.run(t, "doctor")
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "0001_ledger_events.sql") {
		t.Fatalf("doctor with an edited migration: exit %d\n%s", code, out)
	}
}

func TestDBURLBeforeFirstStartAndWithDatabaseURL(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	code, _, errOut := e.run(t, "db", "url")
	if code != 1 || !strings.Contains(errOut, "not been initialised") {
		t.Fatalf("db url before first start: exit %d\n%s", code, errOut)
	}
	code, _, errOut = e.run(t, "db", "url", "--owner")
	if code != 1 || !strings.Contains(errOut, "not been initialised") {
		t.Fatalf("db url --owner before first start: exit %d\n%s", code, errOut)
	}
	e.vars = []string{"DATABASE_URL=postgres://ledger@db.internal:5432/ledger"}
	code, out, _ := e.run(t, "db", "url")
	if code != 0 || strings.TrimSpace(out) != "postgres://ledger@db.internal:5432/ledger" {
		t.Fatalf("db url with DATABASE_URL: exit %d, %q", code, out)
	}
	code, out, _ = e.run(t, "db", "url", "--owner")
	if code != 0 || strings.TrimSpace(out) != "postgres://ledger@db.internal:5432/ledger" {
		t.Fatalf("db url --owner with DATABASE_URL alone: exit %d, %q", code, out)
	}
	e.vars = append(e.vars, "DATABASE_MIGRATION_URL=postgres://owner@db.internal:5432/ledger")
	code, out, _ = e.run(t, "db", "url", "--owner")
	if code != 0 || strings.TrimSpace(out) != "postgres://owner@db.internal:5432/ledger" {
		t.Fatalf("db url --owner with DATABASE_MIGRATION_URL: exit %d, %q", code, out)
	}
	if code, _, errOut := e.run(t, "db", "uri"); code != 2 || !strings.Contains(errOut, "db url") {
		t.Fatalf("db uri: exit %d\n%s", code, errOut)
	}
}

// With DATABASE_URL the ledger starts no PostgreSQL of its own: it migrates the empty
// external database, serves, and doctor reports it.
func TestServeOnAnExternalDatabase(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	e := newInstance(t)
	e.vars = []string{"DATABASE_URL=" + url, "DATABASE_MIGRATION_URL=" + url}
	s := e.serve(t)
	e.waitReady(t, s)
	if _, err := os.Stat(e.pgdata()); err == nil {
		t.Fatalf("an embedded cluster was created although DATABASE_URL is set")
	}
	code, out, errOut := e.run(t, "doctor")
	if code != 0 || !strings.Contains(out, "database (DATABASE_URL) is reachable") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	s.stop(t)
}

func TestServeWithAnUnreachableDatabaseFailsClearly(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = []string{"DATABASE_URL=postgres://ledger:hunter2@" + freeAddr(t) + "/ledger?connect_timeout=5"}
	code, out, errOut := e.run(t, "serve")
	if code != 1 || !strings.Contains(errOut, "connect") || strings.Contains(out+errOut, "hunter2") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}
