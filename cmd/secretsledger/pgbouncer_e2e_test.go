package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// bouncerExecMode is the one setting DATABASE_URL needs through a PgBouncer in
// transaction mode (see docs/database.md): pgx's default caches named prepared
// statements, which a transaction pooler cannot keep on one server connection.
const bouncerExecMode = "default_query_exec_mode=cache_describe"

// throughBouncer returns the database settings of a ledger whose runtime goes through
// a fresh PgBouncer in transaction mode, as the runtime role, with query added to its
// URL, while migrations go direct as the owner: the managed-PostgreSQL layout. A test
// that fails shows PgBouncer's log.
func throughBouncer(t *testing.T, query string) (vars []string, bouncer *pgtest.Bouncer) {
	t.Helper()
	owner := pgtest.NewDatabase(t)
	bouncer = pgtest.StartPgBouncer(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", bouncer.Log())
		}
	})
	runtime := bouncer.URL(t, pgtest.RuntimeUserURL(t, owner), query)
	return []string{"DATABASE_URL=" + runtime, "DATABASE_MIGRATION_URL=" + owner}, bouncer
}

// wentThrough fails the test unless PgBouncer logged logins of the runtime role: the
// runtime really went through the pooler.
func wentThrough(t *testing.T, bouncer *pgtest.Bouncer) {
	t.Helper()
	if log := bouncer.Log(); !strings.Contains(log, "login attempt: db=") || !strings.Contains(log, "user="+pgembed.RuntimeUser) {
		t.Fatalf("PgBouncer saw no login of %s:\n%s", pgembed.RuntimeUser, log)
	}
}

// The secret lifecycle through two ledger processes whose runtime pools go through
// PgBouncer in transaction mode, the steps alternating between them and each resolution
// asked of both: create, rotate, bind, issue an agent key, resolve, delete, restore.
// Every answer is checked, and the log verifies at the end.
func TestSecretLifecycleThroughPgBouncerTwoProcesses(t *testing.T) {
	t.Parallel()
	vars, bouncer := throughBouncer(t, bouncerExecMode)
	p1, p2, s1, s2, token := twoProcessesOn(t, vars...)
	board1, board2 := p1.client(t, token), p2.client(t, token)
	values := []string{canary("v1"), canary("v2"), canary("v3")}

	created := board1.must(201, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "Through bouncer", "value": "`+values[0]+`"}`).json(t)
	id := created["id"].(string)
	if created["latestVersion"].(float64) != 1 || created["status"] != "active" {
		t.Fatalf("created %v", created)
	}
	if got := board2.must(200, "GET", "/api/secrets/"+id, "").json(t); got["name"] != "Through bouncer" || got["latestVersion"].(float64) != 1 {
		t.Fatalf("process 2 reads %v", got)
	}
	rotated := board2.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+values[1]+`"}`).json(t)
	if rotated["latestVersion"].(float64) != 2 {
		t.Fatalf("rotation through process 2: %v", rotated)
	}
	board1.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "agent-b", "configPath": "env.API_KEY"}`)
	key := board2.must(201, "POST", "/api/companies/"+companyA+"/agent-keys",
		`{"targetType": "agent", "targetId": "agent-b"}`).json(t)["token"].(string)
	resolves := func(e *instanceEnv, want string) {
		t.Helper()
		r := e.client(t, key).must(200, "POST", "/api/runtime/resolve", `{}`).json(t)
		if got := r["env"].(map[string]any)["API_KEY"]; got != want {
			t.Fatalf("resolution returned a different value than the current version (manifest %v)", r["manifest"])
		}
	}
	resolves(p1, values[1])
	resolves(p2, values[1])
	board1.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+values[2]+`"}`)
	resolves(p2, values[2])
	resolves(p1, values[2])
	versions := board2.must(200, "GET", "/api/secrets/"+id+"/versions", "").list(t)
	if len(versions) != 3 {
		t.Fatalf("versions through process 2: %v", versions)
	}

	board2.must(200, "DELETE", "/api/secrets/"+id, "")
	board1.must(404, "GET", "/api/secrets/"+id, "")
	for _, e := range []*instanceEnv{p1, p2} {
		gone := e.client(t, key).do("POST", "/api/runtime/resolve", `{"configPaths": ["env.API_KEY"]}`)
		if gone.status != 422 || !strings.Contains(string(gone.body), "secret_deleted") || strings.Contains(string(gone.body), values[2]) {
			t.Fatalf("resolution of a deleted secret: %d %s", gone.status, gone.body)
		}
	}
	if got := board1.must(200, "POST", "/api/secrets/"+id+"/restore", "").json(t); got["status"] != "active" || got["latestVersion"].(float64) != 3 {
		t.Fatalf("restore through process 1: %v", got)
	}
	resolves(p2, values[2])
	resolves(p1, values[2])
	// Every resolution and refusal is recorded: 6 resolved, 2 refused.
	accesses := board2.must(200, "GET", "/api/companies/"+companyA+"/access-events?limit=50", "").list(t)
	if len(accesses) != 8 {
		t.Fatalf("access events: %d, want 8: %v", len(accesses), accesses)
	}

	if code, out, errOut := p2.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	wentThrough(t, bouncer)
	s1.stop(t)
	s2.stop(t)
	for _, s := range []*server{s1, s2} {
		for _, v := range values {
			if strings.Contains(s.stderr.String(), v) {
				t.Error("a value is in a server log")
			}
		}
	}
}

// kill -9 of one of two ledger processes whose runtime goes through PgBouncer in
// transaction mode, while eight clients create and rotate secrets through it: the other
// process, through the same pooler, finds every acknowledged write in the log exactly
// once at the position it was acknowledged with (see TestKill9UnderConcurrentWrites…),
// lost creates retried with their Idempotency-Key exist exactly once, and the chain
// verifies. The killed process is restarted for the next round.
func TestKill9ThroughPgBouncerLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	vars, _ := throughBouncer(t, bouncerExecMode)
	p1, p2, s1, s2, token := twoProcessesOn(t, vars...)
	victim, survivor := p1.client(t, token), p2.client(t, token)
	transport := &http.Transport{MaxIdleConnsPerHost: durabilityWriters}
	victim.hc = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	book := newAckBook()

	for round := 1; round <= durabilityRounds; round++ {
		acked, unknown := writeUntilKilled(t, s1, victim, book, round)
		transport.CloseIdleConnections() // they led to the dead process

		replayed, rotated, checked := book.settleAfterKill(t, round, survivor, p2)
		t.Logf("round %d through PgBouncer: %d writes acknowledged before kill -9; %d requests without an answer, of which committed: %d creates (replayed on retry), %d rotations; verify: %d events",
			round, acked, unknown, replayed, rotated, checked)
		s1 = p1.serve(t)
		p1.waitReady(t, s1)
	}
	s1.stop(t)
	s2.stop(t)
}

// doctor through PgBouncer: with DATABASE_URL on the pooler and no query exec mode it
// warns, naming the setting; with the documented one it says nothing of it and passes.
func TestDoctorWarnsOfAPoolerWithoutExecMode(t *testing.T) {
	t.Parallel()
	vars, _ := throughBouncer(t, "")
	e := newInstance(t)
	e.vars = vars
	const warning = "WARN DATABASE_URL and DATABASE_MIGRATION_URL connect to different places"
	// The check reads the configuration only: its line is there whatever the database
	// answers through a pooler pgx's default mode does not suit.
	if _, out, errOut := e.run(t, "doctor"); !strings.Contains(out, warning) || !strings.Contains(out, "default_query_exec_mode=cache_describe") {
		t.Fatalf("doctor without an exec mode:\n%s\n%s", out, errOut)
	}
	runtime := strings.TrimPrefix(vars[0], "DATABASE_URL=")
	sep := "?"
	if strings.Contains(runtime, "?") {
		sep = "&"
	}
	e.vars = []string{"DATABASE_URL=" + runtime + sep + bouncerExecMode, vars[1]}
	if code, out, errOut := e.run(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := e.run(t, "doctor"); code != 0 || strings.Contains(out, "WARN DATABASE_URL") ||
		!strings.Contains(out, "database (DATABASE_URL) is reachable") {
		t.Fatalf("doctor with %s: exit %d\n%s\n%s", bouncerExecMode, code, out, errOut)
	}
}
