package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// networkFault is one fault on a link, held for a while under the writers' load.
type networkFault struct {
	name string
	on   func(t *testing.T)
	// while runs once the fault is on, before it is lifted (readiness checks).
	while func(t *testing.T)
	hold  time.Duration
	off   func(t *testing.T)
	// after runs once the ledger recovered from the fault.
	after func(t *testing.T)
	// natsOnly: the database stays reachable, so no request may be refused.
	natsOnly bool
}

// Two ledger processes reach PostgreSQL and NATS through Toxiproxy (in-process) while
// 16 clients create, bind, rotate and resolve; each fault is held under load, then
// lifted: latency, a bandwidth limit, connection resets, a 10 s black hole, a timeout
// that closes connections, and a 10 s NATS outage. Clients see answers or 503s with a
// code, never a 500 and never a wait beyond httpapi.RequestTimeout; /readyz names the
// link that is down and recovers by itself; the relay lease stays put through the NATS
// outage (it lives in the database) and one process holds it after the database came
// back; afterwards every acknowledged write is in the log once, the chain verifies, the
// read models match the log, a subscriber has every event of the company once, and the
// processes' goroutines and the runtime role's connections are back to their levels.
func TestNetworkFaultsThroughToxiproxy(t *testing.T) {
	t.Parallel()
	owner := pgtest.NewDatabase(t)
	tg, pg, nats := onTwoProcessesThroughToxiproxy(t, owner)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs (errors):\n%s", errorLines(tg.logs()))
		}
	})
	transport := &http.Transport{MaxIdleConnsPerHost: failoverWriters}
	board := tg.client(t, tg.token)
	board.hc = &http.Client{Timeout: 45 * time.Second, Transport: transport}
	creds := board.subscriber(t, companyA)
	creds.URL = tg.nats.ClientURL() // the subscriber's own link is not faulted: the relay is
	sub := startFollower(t, creds)
	ownerPool := pgtest.NewPool(t, owner)
	ownerViaProxy, _ := url.Parse(owner)
	ownerViaProxy.Host = pg.Listen
	goroutinesBefore := goroutines(t, tg)
	var connsBefore int

	faults := networkFaults(t, tg, pg, nats)
	run := startFailoverWriters(t, tg, board)
	for i, f := range faults {
		var lifting, lifted time.Time
		stats := run.phase(t, func() {
			if i == 0 {
				connsBefore = runtimeConns(t, ownerPool, "")
			}
			f.on(t)
			end := time.Now().Add(f.hold)
			if f.while != nil {
				f.while(t)
			}
			time.Sleep(time.Until(end)) // the fault's length, not a synchronisation
			lifting = time.Now()
			f.off(t)
			lifted = time.Now()
			t.Logf("%s lifted: runtime connections %s; a new connection through the proxy took %s",
				f.name, connStates(t, ownerPool), connectTime(t, ownerViaProxy))
		})
		checkFaultStats(t, f, stats)
		readyAgain(t, tg)
		if f.after != nil {
			f.after(t)
		}
		// Toxiproxy takes up to 5 s per direction to remove a toxic whose connections it
		// closed, and accepts no connection meanwhile: "lifted in" is the proxy's time,
		// "first acknowledgement" the ledger's recovery once the link was whole again.
		t.Logf("%s (lifted in %s, first acknowledgement %s after): no acknowledgement for at most %s; clients saw %s",
			f.name, lifted.Sub(lifting).Round(time.Millisecond), stats.firstAckAfter(lifted).Round(time.Millisecond),
			stats.unavailable().Round(time.Millisecond), stats)
	}
	book := run.finish(t)
	waitSealedWith(t, tg.psql) // the events route and NATS carry the sealed log
	t.Logf("%d operations acknowledged across %d faults; the book holds %d creates and %d rotations, each checked in the log",
		run.acked.Load(), len(faults), len(book.creates), len(book.rotations))

	book.check(t, board)
	if code, out, errOut := tg.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify after the faults: exit %d\n%s%s", code, out, errOut)
	}
	everyCompanyEventOnce(t, sub, readCompanyLog(t, board))
	transport.CloseIdleConnections()
	noLeaks(t, tg, ownerPool, goroutinesBefore, connsBefore)
}

// toxiproxyPoolConns is each process's pool size in TestNetworkFaultsThroughToxiproxy:
// fewer than its failoverWriters and background jobs ask for at once.
const toxiproxyPoolConns = 8

// onTwoProcessesThroughToxiproxy starts two serve processes whose runtime connections
// to the database owner holds (as the runtime role) and to NATS go through proxies of an
// in-process Toxiproxy; migrations go direct, as the owner.
func onTwoProcessesThroughToxiproxy(t *testing.T, owner string) (tg *apiTarget, pg, nats *toxiproxy.Proxy) {
	t.Helper()
	toxi := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	runtime, err := url.Parse(pgtest.RuntimeUserURL(t, owner))
	if err != nil {
		t.Fatal(err)
	}
	pg = startProxy(t, toxi, "postgres", runtime.Host)
	runtime.Host = pg.Listen
	// Pools the writers keep full (serve's default size is more than this load needs):
	// the runtime role's connections then stand at the pools' whole size before the
	// faults as after them, and one more is one the faults left behind (noLeaks).
	q := runtime.Query()
	q.Set("pool_max_conns", strconv.Itoa(toxiproxyPoolConns))
	runtime.RawQuery = q.Encode()
	tg = onTwoProcessesVia(t, func(natsURL string) string {
		u, err := url.Parse(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		nats = startProxy(t, toxi, "nats", u.Host)
		u.Host = nats.Listen
		return u.String()
	}, "DATABASE_URL="+runtime.String(), "DATABASE_MIGRATION_URL="+owner)
	return tg, pg, nats
}

// startProxy starts a Toxiproxy proxy to upstream on a free loopback port, stopped
// (its connections closed) when the test ends.
func startProxy(t *testing.T, server *toxiproxy.ApiServer, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// addToxic adds a toxic of typ on both directions of p's connections.
func addToxic(t *testing.T, p *toxiproxy.Proxy, typ string, attrs map[string]any) {
	t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		spec, _ := json.Marshal(map[string]any{"name": typ + "_" + stream, "type": typ, "stream": stream, "attributes": attrs})
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(spec))); err != nil {
			t.Fatalf("toxic %s on %s: %v", typ, p.Name, err)
		}
	}
}

func removeToxic(t *testing.T, p *toxiproxy.Proxy, typ string) {
	t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		if err := p.Toxics.RemoveToxic(context.Background(), typ+"_"+stream); err != nil {
			t.Fatalf("remove %s_%s from %s: %v", typ, stream, p.Name, err)
		}
	}
}

// networkFaults are the faults of the test, in order.
func networkFaults(t *testing.T, tg *apiTarget, pg, nats *toxiproxy.Proxy) []networkFault {
	toxic := func(p *toxiproxy.Proxy, typ string, attrs map[string]any) (func(*testing.T), func(*testing.T)) {
		return func(t *testing.T) { addToxic(t, p, typ, attrs) }, func(t *testing.T) { removeToxic(t, p, typ) }
	}
	var faults []networkFault
	add := func(name string, hold time.Duration, on, off func(*testing.T), while func(*testing.T)) {
		faults = append(faults, networkFault{name: name, on: on, off: off, hold: hold, while: while})
	}
	on, off := toxic(pg, "latency", map[string]any{"latency": 50, "jitter": 20})
	add("database latency 50 ms ± 20 ms", 5*time.Second, on, off, nil)
	on, off = toxic(pg, "bandwidth", map[string]any{"rate": 64}) // KB/s each way
	add("database bandwidth 64 KB/s", 5*time.Second, on, off, nil)
	on, off = toxic(pg, "reset_peer", map[string]any{"timeout": 0})
	add("database connections reset", 3*time.Second, on, off, nil)
	on, off = toxic(pg, "timeout", map[string]any{"timeout": 0})
	var relay int
	faults = append(faults, networkFault{name: "database black hole 10 s", hold: 10 * time.Second, off: off,
		on: func(t *testing.T) {
			relay = relayHolder(t, tg)
			on(t)
		},
		while: func(t *testing.T) { databaseDownInReadyz(t, tg) },
		// Renewals fail for longer than the lease TTL lasts: the holder stops relaying, and
		// whichever process renews or takes it first after the database came back holds it.
		after: func(t *testing.T) {
			t.Logf("relay lease: process %d before the black hole, process %d after", relay+1, relayHolder(t, tg)+1)
		}})
	on, off = toxic(pg, "timeout", map[string]any{"timeout": 1500})
	add("database connections closed after 1.5 s", 5*time.Second, on, off, nil)
	faults = append(faults, networkFault{name: "NATS unreachable 10 s (proxy disabled)", hold: 10 * time.Second, natsOnly: true,
		on: func(t *testing.T) {
			relay = relayHolder(t, tg)
			nats.Stop()
		},
		while: func(t *testing.T) { natsDownInReadyz(t, tg, relay) },
		off: func(t *testing.T) {
			if err := nats.Start(); err != nil {
				t.Fatalf("NATS proxy back: %v", err)
			}
		},
		// The lease lives in the database, which NATS's outage does not touch: it stays.
		after: func(t *testing.T) {
			if now := relayHolder(t, tg); now != relay {
				t.Errorf("the relay lease moved from process %d to %d after NATS came back", relay+1, now+1)
			}
		}})
	return faults
}

// checkFaultStats holds what the clients saw: answers within the request bound (no
// request went unanswered; the ledger processes stay up), and no refusal at all while
// only NATS is down (the ledger works without it). Any status but the expected one or
// 503 has already stopped a writer.
func checkFaultStats(t *testing.T, f networkFault, s *faultStats) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noAnswer > 0 {
		t.Errorf("%s: %d requests got no answer", f.name, s.noAnswer)
	}
	if bound := httpapi.RequestTimeout + 2*time.Second; s.longest > bound {
		t.Errorf("%s: a request took %s, beyond the request timeout %s", f.name, s.longest, httpapi.RequestTimeout)
	}
	for code := range s.refused {
		if code == "" || f.natsOnly {
			t.Errorf("%s: 503 with code %q (%d times)", f.name, code, s.refused[code])
		}
	}
}

// firstAckAfter is how long after at the first operation was acknowledged.
func (s *faultStats) firstAckAfter(at time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ok := range s.successes {
		if !ok.Before(at) {
			return ok.Sub(at)
		}
	}
	return -1
}

// readyzOf is one process's /readyz: status code and body. Its checks are bounded, so
// it answers even while a dependency hangs.
func readyzOf(e *instanceEnv) (int, map[string]any, error) {
	hc := &http.Client{Timeout: 20 * time.Second}
	resp, err := hc.Get("http://" + e.addr + "/readyz")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	err = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, err
}

func checkOK(body map[string]any, name string) bool {
	c, _ := body["checks"].(map[string]any)[name].(map[string]any)
	return c["ok"] == true
}

// waitReadyz polls the processes' /readyz at once until cond holds for each, and fails
// after limit.
func waitReadyz(t *testing.T, tg *apiTarget, what string, limit time.Duration, cond func(code int, body map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	failed := make(chan string, len(tg.procs))
	for _, e := range tg.procs {
		go func() {
			for {
				code, body, err := readyzOf(e)
				switch {
				case err != nil:
					failed <- fmt.Sprintf("readyz of %s: %v", e.addr, err)
					return
				case cond(code, body):
					failed <- ""
					return
				case time.Now().After(deadline):
					failed <- fmt.Sprintf("readyz of %s: not %s within %s: %d %v", e.addr, what, limit, code, body)
					return
				}
				time.Sleep(100 * time.Millisecond) // polling another process
			}
		}()
	}
	for range tg.procs {
		if msg := <-failed; msg != "" {
			t.Error(msg)
		}
	}
}

// readyAgain: both processes' /readyz recovers by itself once the fault is lifted.
func readyAgain(t *testing.T, tg *apiTarget) {
	waitReadyz(t, tg, "ready", 30*time.Second, func(code int, body map[string]any) bool {
		return code == http.StatusOK && body["status"] == "ready"
	})
}

// databaseDownInReadyz: while the database is black-holed, /readyz answers 503
// "unavailable" with the database check failing.
func databaseDownInReadyz(t *testing.T, tg *apiTarget) {
	waitReadyz(t, tg, "unavailable with the database check failing", 9*time.Second, func(code int, body map[string]any) bool {
		return code == http.StatusServiceUnavailable && body["status"] == "unavailable" && !checkOK(body, "database")
	})
}

// natsDownInReadyz: while NATS is unreachable, /readyz answers 200 "degraded" with the
// nats check failing, and the relay lease stays where it was.
func natsDownInReadyz(t *testing.T, tg *apiTarget, relay int) {
	waitReadyz(t, tg, "degraded with the nats check failing", 9*time.Second, func(code int, body map[string]any) bool {
		return code == http.StatusOK && body["status"] == "degraded" && !checkOK(body, "nats") && checkOK(body, "database")
	})
	if now := relayHolder(t, tg); now != relay {
		t.Errorf("the relay lease moved from process %d to %d while NATS was down", relay+1, now+1)
	}
}

// relayHolder waits until exactly one process lists the relay role in /readyz and
// returns its index.
func relayHolder(t *testing.T, tg *apiTarget) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var holders []int
		for i, e := range tg.procs {
			_, body, err := readyzOf(e)
			if err != nil {
				t.Fatal(err)
			}
			roles, _ := body["roles"].([]any)
			if slices.Contains(roles, any("relay")) {
				holders = append(holders, i)
			}
		}
		if len(holders) == 1 {
			return holders[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay held by processes %v", holders)
		}
		time.Sleep(100 * time.Millisecond) // polling another process
	}
}

// goroutines is each process's go_goroutines.
func goroutines(t *testing.T, tg *apiTarget) []float64 {
	t.Helper()
	var n []float64
	for _, e := range tg.procs {
		v, ok := sampleValue(scrape(t, "http://"+e.addr), "go_goroutines", "")
		if !ok {
			t.Fatal("no go_goroutines in /metrics")
		}
		n = append(n, v)
	}
	return n
}

// runtimeConns counts the runtime role's server connections to the test's database
// (in state, when given), seen directly as the owner.
func runtimeConns(t *testing.T, owner *pgxpool.Pool, state string) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE usename = $1 AND datname = current_database() AND ($2 = '' OR state = $2)`, pgembed.RuntimeUser, state).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// connectTime is how long a new connection through the proxy takes to answer a query:
// the proxy's own recovery, to tell from the ledger's.
func connectTime(t *testing.T, via *url.URL) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, via.String())
	if err == nil {
		_, err = conn.Exec(ctx, "SELECT 1")
		_ = conn.Close(ctx)
	}
	if err != nil {
		t.Logf("a new connection through the proxy: %v", err)
	}
	return time.Since(start).Round(time.Millisecond)
}

// connStates describes the runtime role's server connections by state and wait.
func connStates(t *testing.T, owner *pgxpool.Pool) string {
	t.Helper()
	rows, err := owner.Query(context.Background(), `SELECT s || ' ' || count(*) FROM (SELECT coalesce(state, '?') || '/' || coalesce(wait_event_type, '-') AS s
		FROM pg_stat_activity WHERE usename = $1 AND datname = current_database()) a GROUP BY s ORDER BY s`, pgembed.RuntimeUser)
	if err != nil {
		t.Fatal(err)
	}
	states, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(states, ", ")
}

// noLeaks waits until the processes' goroutines and the runtime role's connections are
// back to their levels before the faults, and no connection is left in a transaction.
func noLeaks(t *testing.T, tg *apiTarget, owner *pgxpool.Pool, goroutinesBefore []float64, connsBefore int) {
	t.Helper()
	const slack = 10 // timers and idle HTTP connections come and go
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, conns, inTx := goroutines(t, tg), runtimeConns(t, owner, ""), runtimeConns(t, owner, "idle in transaction")
		back := conns <= connsBefore && inTx == 0
		for i := range now {
			back = back && now[i] <= goroutinesBefore[i]+slack
		}
		if back {
			t.Logf("after the faults: goroutines %v (before %v), runtime connections %d (before %d)", now, goroutinesBefore, conns, connsBefore)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: goroutines %v (before %v), runtime connections %d (before %d), %d idle in transaction",
				now, goroutinesBefore, conns, connsBefore, inTx)
		}
		time.Sleep(200 * time.Millisecond) // polling other processes
	}
}

// errorLines are the ERROR and WARN lines of a server log.
func errorLines(logs string) string {
	var b strings.Builder
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"ERROR"`) || strings.Contains(line, `"WARN"`) {
			fmt.Fprintln(&b, line)
		}
	}
	return b.String()
}
