package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

var (
	linDuration = flag.Duration("linearizable.duration", 15*time.Second,
		"how long the clients of TestHistoriesAreLinearizable run")
	linPatroni = flag.Bool("linearizable.patroni", false,
		"run TestHistoriesAreLinearizable on a Patroni cluster and crash its primary too (slow)")
)

const (
	linClients = 8
	linSecrets = 4
)

// Eight clients rotate (with and without expectedLatestVersion), read, resolve through
// an agent key bound at "latest", delete and restore four secrets through two serve
// processes on one database, while one process is killed with SIGKILL and restarted and
// the NATS server is restarted (with -linearizable.patroni also: the database is a
// Patroni cluster whose primary crashes and comes back as a replica). The history they
// record is linearizable against a versioned register per secret (linModel): every
// answer is one some order of the operations, each taking effect between its call and
// its answer, explains.
func TestHistoriesAreLinearizable(t *testing.T) {
	t.Parallel()
	var dbVars []string
	var pg *pgtest.Patroni
	if *linPatroni {
		pg = pgtest.StartPatroni(t)
		dbVars = []string{"DATABASE_URL=" + pg.RuntimeURL(), "DATABASE_MIGRATION_URL=" + pg.OwnerURL()}
	} else {
		dbVars = []string{"DATABASE_URL=" + pgtest.NewDatabase(t)}
	}
	tg := onTwoProcesses(t, dbVars...)
	t.Cleanup(func() {
		if t.Failed() {
			for _, line := range strings.Split(tg.logs(), "\n") {
				if strings.Contains(line, "ERROR") {
					t.Log(line)
				}
			}
		}
	})
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: linClients}}
	h := &linHistory{start: time.Now()}
	secrets, paths, agentKey := linSetup(t, tg, hc, h)
	ep := &linEndpoints{board: make([]atomic.Pointer[apiClient], len(tg.procs)), agent: make([]atomic.Pointer[apiClient], len(tg.procs))}
	for i := range tg.procs {
		linConnect(t, tg, ep, i, hc, agentKey)
	}

	var stop atomic.Bool
	failures := startLinClients(h, ep, secrets, paths, &stop)
	// The faults run here, on the test's goroutine (restarting a process may fail the
	// test), while the clients run on theirs.
	faults := linFaults(t, tg, ep, hc, agentKey, pg)
	injected := runLinFaults(t, faults, *linDuration)
	stop.Store(true)
	for _, f := range failures() {
		t.Error(f)
	}

	history := h.operations()
	checked := checkLinearizable(t, history, max(2*time.Minute, *linDuration))
	t.Logf("%d operations in %s (%s), %d with an unknown outcome, %d attempts, %d replayed, %d answered 500; faults injected: %s; "+
		"%d histories (one per secret) checked in %s: %s; longest unavailability seen by a client: %s",
		len(history), linDuration.String(), linKindCounts(h), h.unknown, h.attempts, h.replayed, h.internal, strings.Join(injected, ", "),
		checked.partitions, checked.took.Round(time.Millisecond), checked.result, h.longestDown.Round(time.Millisecond))
	if h.internal > 0 {
		for _, line := range strings.Split(tg.logs(), "\n") {
			if strings.Contains(line, "ERROR") {
				t.Log(line)
			}
		}
		t.Errorf("%d answers were 500: a process kill, a NATS restart or a failover is no fault of the server's", h.internal)
	}
	if n := h.kinds[linRotate] + h.kinds[linRotateCAS]; n < linSecrets {
		t.Errorf("only %d rotations ran: the history checks little", n)
	}
	if code, out, errOut := tg.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Errorf("verify after the run: exit %d\n%s%s", code, out, errOut)
	}
}

// startLinClients starts the clients; the function it returns waits for them to end
// (after stop) and returns what they found wrong outside the model.
func startLinClients(h *linHistory, ep *linEndpoints, secrets, paths []string, stop *atomic.Bool) func() []string {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := range linClients {
		c := &linClient{id: i + 1, h: h, ep: ep, secrets: secrets, paths: paths, seen: make([]int, len(secrets)),
			rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))),
			failure: func(format string, args ...any) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf(format, args...))
				mu.Unlock()
			}}
		for j := range c.seen {
			c.seen[j] = 1
		}
		wg.Add(1)
		go func() { defer wg.Done(); c.run(stop) }()
	}
	return func() []string {
		wg.Wait()
		return failures
	}
}

func linKindCounts(h *linHistory) string {
	var parts []string
	for k, n := range h.kinds {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", linKind(k), n))
		}
	}
	return strings.Join(parts, ", ")
}

// linSetup creates the secrets (their creates are the first operations of the history),
// binds each at "latest" to one consumer (optional bindings, so that a deleted secret is
// a manifest outcome, not a 422) and issues that consumer's agent key.
func linSetup(t *testing.T, tg *apiTarget, hc *http.Client, h *linHistory) (secrets, paths []string, agentKey string) {
	t.Helper()
	board := tg.client(t, tg.token)
	board.hc = hc
	for i := range linSecrets {
		name := fmt.Sprintf("lin-%d", i)
		in := linInput{kind: linCreate, value: "lin-created-" + name}
		call := h.now()
		sec := board.must(http.StatusCreated, "POST", "/api/companies/"+companyA+"/secrets",
			fmt.Sprintf(`{"name": %q, "key": %q, "value": %q}`, name, name, in.value)).json(t)
		in.secret = sec["id"].(string)
		h.record(0, in, call, linOutput{status: http.StatusCreated, version: 1})
		path := fmt.Sprintf("lin.s%d", i)
		board.must(http.StatusCreated, "POST", "/api/companies/"+companyA+"/secret-bindings", fmt.Sprintf(
			`{"secretId": %q, "targetType": "agent", "targetId": "lin", "configPath": %q, "versionSelector": "latest", "required": false}`,
			in.secret, path))
		secrets, paths = append(secrets, in.secret), append(paths, path)
	}
	agentKey = board.must(http.StatusCreated, "POST", "/api/companies/"+companyA+"/agent-keys",
		`{"targetType": "agent", "targetId": "lin"}`).json(t)["token"].(string)
	return secrets, paths, agentKey
}

// linConnect (re)makes the API clients of process i, at its address now.
func linConnect(t *testing.T, tg *apiTarget, ep *linEndpoints, i int, hc *http.Client, agentKey string) {
	board, agent := tg.procs[i].client(t, tg.token), tg.procs[i].client(t, agentKey)
	board.hc, agent.hc = hc, hc
	ep.board[i].Store(board)
	ep.agent[i].Store(agent)
}

// linFault is one fault: inject breaks something and repairs it, returning once the
// deployment is whole again.
type linFault struct {
	name   string
	inject func()
}

func linFaults(t *testing.T, tg *apiTarget, ep *linEndpoints, hc *http.Client, agentKey string, pg *pgtest.Patroni) []linFault {
	killed := 0
	faults := []linFault{
		{"kill -9 of a serve process and its restart", func() {
			i := killed % len(tg.procs)
			killed++
			s := tg.servers[i]
			if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-s.exited
			s = tg.procs[i].serve(t)
			tg.procs[i].waitReady(t, s)
			tg.servers[i] = s
			linConnect(t, tg, ep, i, hc, agentKey) // its address may have changed
		}},
		{"NATS restart", func() { restartNATS(t, tg) }},
	}
	if pg == nil {
		return faults
	}
	return append(faults, linFault{"crash of the PostgreSQL primary, back as a replica", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		crashed := pg.Leader()
		pg.Crash(crashed)
		if _, err := pg.WaitLeader(ctx, crashed); err != nil {
			t.Fatalf("no new leader: %v", err)
		}
		if err := pg.Start(crashed); err != nil {
			t.Fatal(err)
		}
		if _, err := pg.WaitSynchronous(ctx); err != nil {
			t.Fatal(err)
		}
	}})
}

// linFaultGap is the longest time between two faults of a long run.
const linFaultGap = 30 * time.Second

// runLinFaults injects the faults in turn, evenly spread over d (each at least once; in
// a long run one at least every linFaultGap), and returns what it injected.
func runLinFaults(t *testing.T, faults []linFault, d time.Duration) []string {
	t.Helper()
	start := time.Now()
	gap := min(d/time.Duration(len(faults)+1), linFaultGap)
	var injected []string
	for n := 0; ; n++ {
		next := start.Add(time.Duration(n+1) * gap)
		if n >= len(faults) && next.After(start.Add(d-gap/2)) {
			break
		}
		time.Sleep(time.Until(next)) // the schedule of the faults, not a synchronisation
		f := faults[n%len(faults)]
		began := time.Now()
		f.inject()
		injected = append(injected, fmt.Sprintf("%s (%s)", f.name, time.Since(began).Round(time.Millisecond)))
	}
	time.Sleep(time.Until(start.Add(d)))
	return injected
}

// restartNATS stops the target's NATS server and starts it again on its port and
// directory (its JetStream data and accounts), as an operator's restart would.
func restartNATS(t *testing.T, tg *apiTarget) {
	t.Helper()
	u, err := url.Parse(tg.nats.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(u.Hostname(), u.Port())
	tg.nats.Shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: addr, Dir: tg.natsDir})
		if err == nil {
			t.Cleanup(ns.Shutdown)
			tg.nats = ns
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS did not start again on %s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond) // the port may still be held by the old listener
	}
}

// Through the binary, a write retried with its Idempotency-Key after its first try
// committed is replayed (200, Idempotent-Replayed), as the linearizability clients
// assume: a compare-and-set made stale by its own first try, a restore, and a rotation
// of a secret deleted since (its first answer again, not 404). When the first answer
// was not kept (a process that stopped right after its append), the commands replay it
// from the log: TestRetriedCommittedRequestIsReplayedNotRefused.
func TestLinearizableRetriesOfCommittedWritesAreReplayed(t *testing.T) {
	t.Parallel()
	tg := onOneProcess(t)
	api := tg.client(t, tg.token)
	id := api.must(http.StatusCreated, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "retried", "value": "retried-v1"}`).json(t)["id"].(string)
	replayed := func(what, method, path, body, key string) response {
		t.Helper()
		first := api.must(http.StatusOK, method, path, body, "Idempotency-Key", key)
		again := api.do(method, path, body, "Idempotency-Key", key)
		if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" ||
			again.header.Get("X-Ledger-Position") != first.header.Get("X-Ledger-Position") {
			t.Fatalf("%s retried: %d %s (replayed %q), want the first answer replayed", what, again.status, again.body,
				again.header.Get("Idempotent-Replayed"))
		}
		return again
	}
	replayed("a compare-and-set", "POST", "/api/secrets/"+id+"/rotate", `{"value": "retried-v2", "expectedLatestVersion": 1}`, "cas-1")
	api.must(http.StatusOK, "DELETE", "/api/secrets/"+id, "")
	replayed("a restore", "POST", "/api/secrets/"+id+"/restore", "", "restore-1")

	rotate := `{"value": "retried-v3"}`
	first := api.must(http.StatusOK, "POST", "/api/secrets/"+id+"/rotate", rotate, "Idempotency-Key", "rotate-1")
	api.must(http.StatusOK, "DELETE", "/api/secrets/"+id, "")
	again := api.do("POST", "/api/secrets/"+id+"/rotate", rotate, "Idempotency-Key", "rotate-1")
	if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) {
		t.Fatalf("a rotation retried after a delete: %d %s, want the first answer replayed", again.status, again.body)
	}
}
