package main

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

// apiTarget is the deployment a lifecycle test body runs against: one serve on its
// embedded database, or several serve processes on one database and one NATS. HTTP
// requests and CLI runs take turns on the processes, so with two a write through one
// is followed by a read or write through the other: the read models are updated in the
// append transaction, so every process must see every acknowledged write at once.
type apiTarget struct {
	procs   []*instanceEnv
	servers []*server
	// token is the instance board token, valid on every process.
	token string
	// companyA and companyB are the body's companies. Bodies that share a database get
	// companies of their own, so that no body sees another's rows.
	companyA, companyB string
	// shared: the processes outlive the body (a suite runs many bodies on them), so the
	// body must not stop them.
	shared bool
	// nats is the NATS server of a multi-process target; nil: the process's embedded one.
	nats *natsbus.Embedded
	// natsDir is that NATS server's directory, for a test that restarts it.
	natsDir string
	turn    *atomic.Uint64
}

// onOneProcess starts one serve on its embedded database with the extra environment
// vars: the topology of a single-machine install.
func onOneProcess(t *testing.T, vars ...string) *apiTarget {
	t.Helper()
	e := newInstance(t)
	e.vars = vars
	s := e.serve(t)
	e.waitReady(t, s)
	return &apiTarget{procs: []*instanceEnv{e}, servers: []*server{s}, token: e.instanceToken(t),
		companyA: companyA, companyB: companyB, turn: new(atomic.Uint64)}
}

// sharedIntegrityKey is the setting that gives processes of one instance with homes of
// their own (hosts, in production) the same integrity key file; the first to start
// creates it.
func sharedIntegrityKey(t *testing.T) string {
	return "LEDGER_INTEGRITY_KEY_FILE=" + filepath.Join(t.TempDir(), "integrity.key")
}

// onTwoProcesses starts two serve processes on the database settings dbVars (DATABASE_URL
// and perhaps DATABASE_MIGRATION_URL), one NATS server and one master key; their CLI
// runs with the instance token.
func onTwoProcesses(t *testing.T, dbVars ...string) *apiTarget {
	t.Helper()
	return onTwoProcessesVia(t, nil, dbVars...)
}

// onTwoProcessesVia is onTwoProcesses whose processes reach NATS at via(the server's
// client URL), a proxy in front of it; nil: directly.
func onTwoProcessesVia(t *testing.T, via func(natsURL string) string, dbVars ...string) *apiTarget {
	t.Helper()
	natsDir := t.TempDir()
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: "127.0.0.1:0", Dir: natsDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	natsURL := ns.ClientURL()
	if via != nil {
		natsURL = via(natsURL)
	}
	// One instance: one master key, one integrity key, one checkpoint key (its
	// checkpoints and the attestations of its exports verify whichever process signed them).
	shared := append(append(externalNATS(natsURL, ns.Auth()), dbVars...), "PAPERCLIP_SECRETS_MASTER_KEY="+hex.EncodeToString(randomKey(t)),
		sharedIntegrityKey(t), "LEDGER_CHECKPOINT_KEY_FILE="+filepath.Join(t.TempDir(), "checkpoint.key"))
	p1, p2 := newInstance(t), newInstance(t)
	p1.vars, p2.vars = shared, shared
	s1 := p1.serve(t)
	p1.waitReady(t, s1)
	s2 := p2.serve(t)
	p2.waitReady(t, s2)
	token := p1.instanceToken(t) // one database, one set of tokens
	p1.vars = append(append([]string{}, shared...), "LEDGER_TOKEN="+token)
	p2.vars = append(append([]string{}, shared...), "LEDGER_TOKEN="+token)
	return &apiTarget{procs: []*instanceEnv{p1, p2}, servers: []*server{s1, s2}, token: token,
		companyA: companyA, companyB: companyB, nats: ns, natsDir: natsDir, turn: new(atomic.Uint64)}
}

// forBody is the target for one body of a suite: the same processes, which the body
// must leave running, and two fresh companies.
func (a *apiTarget) forBody() *apiTarget {
	b := *a
	b.companyA, b.companyB = newCompanyID(), newCompanyID()
	b.shared = true
	return &b
}

// newCompanyID returns a random version 4 UUID.
func newCompanyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// companies returns the body's two companies.
func (a *apiTarget) companies() (string, string) { return a.companyA, a.companyB }

// external reports whether the processes run on a database of their own choosing
// (DATABASE_URL) rather than an embedded one.
func (a *apiTarget) external() bool { return a.nats != nil }

// client is an API client whose requests take turns on the processes.
func (a *apiTarget) client(t *testing.T, token string) *apiClient {
	c := &apiClient{t: t, token: token}
	for _, e := range a.procs {
		c.bases = append(c.bases, "http://"+e.addr)
	}
	return c
}

// proc returns process i (modulo their number), for steps that must go to one.
func (a *apiTarget) proc(i int) *instanceEnv { return a.procs[i%len(a.procs)] }

// cli returns the process whose instance the next CLI run uses: the client verbs talk
// to that process's server.
func (a *apiTarget) cli() *instanceEnv {
	return a.procs[(a.turn.Add(1)-1)%uint64(len(a.procs))]
}

// run runs a CLI command on the next process's instance.
func (a *apiTarget) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return a.cli().run(t, args...)
}

// runWith is run with vars added to the environment.
func (a *apiTarget) runWith(t *testing.T, vars []string, args ...string) (int, string, string) {
	t.Helper()
	return a.runInput(t, vars, "", args...)
}

// runInput is runWith with stdin.
func (a *apiTarget) runInput(t *testing.T, vars []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	e := *a.cli()
	e.vars = append(append([]string{}, e.vars...), vars...)
	return e.runWithInput(t, stdin, args...)
}

// psql runs sql with psql as the runtime role, on the first process's settings: through
// the pooler when DATABASE_URL goes through one.
func (a *apiTarget) psql(t *testing.T, sql string) (string, error) {
	t.Helper()
	if !a.external() {
		return a.procs[0].psql(t, sql)
	}
	// db url leaves out pgx's own parameters, which libpq refuses.
	code, raw, errOut := a.procs[0].run(t, "db", "url")
	if code != 0 {
		t.Fatalf("db url: exit %d %s", code, errOut)
	}
	out, err := runPGClient(t, "psql", raw, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-c", sql)
	return string(out), err
}

// logs returns the servers' output so far.
func (a *apiTarget) logs() string {
	var b strings.Builder
	for _, s := range a.servers {
		b.WriteString(s.stderr.String())
	}
	return b.String()
}

// stop stops the servers, unless they are shared with other bodies: those stop when
// the suite ends.
func (a *apiTarget) stop(t *testing.T) {
	t.Helper()
	if a.shared {
		return
	}
	for _, s := range a.servers {
		s.stop(t)
	}
}

// pgDump dumps the whole database as its owner. An embedded database runs only while
// serve does: call stop first.
func (a *apiTarget) pgDump(t *testing.T) string {
	t.Helper()
	if !a.external() {
		return a.procs[0].pgDump(t)
	}
	bin, err := pgembed.FindBinaries("")
	if err != nil {
		t.Fatal(err)
	}
	_, url, _ := a.procs[0].run(t, "db", "url", "--owner")
	out, err := runPGClient(t, filepath.Join(bin, "pg_dump"), url, "--no-owner")
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return string(out)
}

// ledgerJetStream connects to the target's NATS as the ledger user.
func (a *apiTarget) ledgerJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	if a.nats == nil {
		return a.procs[0].ledgerJetStream(t)
	}
	nc, err := a.nats.Endpoint().Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// lifecycleBodies are the end-to-end tests of the HTTP API (and the CLI verbs over it)
// that run on any topology: each has its own test on the topology it was written for,
// and TestLifecycleSuiteThroughPgBouncerTwoProcesses runs them all on two processes
// behind PgBouncer.
var lifecycleBodies = []struct {
	name string
	run  func(*testing.T, *apiTarget)
}{
	{"SecretLifecycle", secretLifecycle},
	{"CrossCompanyBoundary", crossCompanyBoundary},
	{"BadInputIsRefusedAndWritesNothing", badInputIsRefused},
	{"IdempotencyKeyOnCreate", idempotencyKeyOnCreate},
	{"RuntimeResolution", runtimeResolution},
	{"MigrateInlineEnv", migrateInlineEnv},
	{"ProviderVaults", providerVaults},
	{"FreezeAndRevokeAll", freezeAndRevokeAll},
	{"RotationReachesOnlyTheCompanysSubscribers", rotationReachesOnlyTheCompanysSubscribers},
	{"AuditCLI", auditCLI},
	{"SecretsCLIClient", secretsCLIClient},
	{"CLIVerbs", cliVerbs},
}

// The lifecycle suite through two ledger processes whose runtime pools go through
// PgBouncer in transaction mode (migrations direct), requests alternating between them:
// every body above passes, the log verifies at the end, no canary value reached a
// server's log, and PgBouncer really carried the runtime role's connections.
func TestLifecycleSuiteThroughPgBouncerTwoProcesses(t *testing.T) {
	t.Parallel()
	vars, bouncer := throughBouncer(t, bouncerExecMode)
	suite := onTwoProcesses(t, append(vars, "LEDGER_AWS_VAULTS=on")...) // ProviderVaults makes AWS vaults
	start := time.Now()
	for _, body := range lifecycleBodies {
		t.Run(body.name, func(t *testing.T) { body.run(t, suite.forBody()) })
	}
	t.Logf("%d bodies through PgBouncer in %s", len(lifecycleBodies), time.Since(start).Round(time.Millisecond))

	// The requests really took turns: each process committed a share of the writes.
	for i, e := range suite.procs {
		n, ok := sampleValue(scrape(t, "http://"+e.addr), "secretsledger_eventstore_append_batch_events_sum", "")
		if !ok || n < 20 {
			t.Errorf("process %d appended %v events (found: %v), want at least 20", i+1, n, ok)
		}
		t.Logf("process %d appended %v events", i+1, n)
	}
	if code, out, errOut := suite.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	wentThrough(t, bouncer)
	for _, s := range suite.servers {
		s.stop(t)
	}
	// Every body's values are canaries ("canary-<label>-<ulid>"): none may be in a log.
	if logs := suite.logs(); strings.Contains(logs, "canary-") {
		i := strings.Index(logs, "canary-")
		t.Errorf("a canary value is in a server log, near %q", logs[max(0, i-200):i])
	}
}
