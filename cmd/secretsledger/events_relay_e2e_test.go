package main

// Two serve processes share one relay: the leader's kill -9 under load hands the relay
// over, and a subscriber sees every event exactly once, in order.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// consumeAll reads ledger.> as the ledger user until want events arrived, failing on a
// gap, a reordering or a duplicate, and returns the positions.
func consumeAll(t *testing.T, ep natsbus.Endpoint, want int) []int64 {
	t.Helper()
	nc, err := ep.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	var sub *nats.Subscription
	deadline := time.Now().Add(20 * time.Second)
	for sub == nil {
		if sub, err = js.SubscribeSync(natsbus.EventSubjects, nats.OrderedConsumer()); err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the relay creates the stream with its first publish
		}
	}
	var positions []int64
	for len(positions) < want {
		m, err := sub.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatalf("after %d events: %v", len(positions), err)
		}
		var env natsbus.Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatal(err)
		}
		if want := int64(len(positions) + 1); env.Position != want {
			t.Fatalf("received position %d, want %d (gap, reorder or duplicate)", env.Position, want)
		}
		positions = append(positions, env.Position)
	}
	if m, err := sub.NextMsg(500 * time.Millisecond); err == nil {
		t.Fatalf("extra message after %d: %s", want, m.Data)
	}
	return positions
}

// Two serve processes on one database and one NATS: both take commands, one relays;
// kill -9 of the relay leader under load hands over within 5 s, and a subscriber sees
// every event exactly once, in order.
func TestTwoProcessesShareTheRelay(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	natsDir := t.TempDir()
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: "127.0.0.1:0", Dir: natsDir})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	// Processes on one database share its master key (a second key is refused at start).
	shared := append(externalNATS(ns.ClientURL(), ns.Auth()), "DATABASE_URL="+dbURL, "PAPERCLIP_SECRETS_MASTER_KEY="+hex.EncodeToString(randomKey(t)),
		sharedIntegrityKey(t), "LEDGER_LEASE_TTL=2s") // a dead relay's lease expires well within the 5 s below
	p1, p2 := newInstance(t), newInstance(t)
	p1.vars, p2.vars = shared, shared
	s1 := p1.serve(t)
	p1.waitReady(t, s1)
	s2 := p2.serve(t)
	p2.waitReady(t, s2)
	token := p1.instanceToken(t) // one database, one set of tokens
	apis := map[*instanceEnv]*apiClient{p1: p1.client(t, token), p2: p2.client(t, token)}
	servers := map[*instanceEnv]*server{p1: s1, p2: s2}
	var created atomic.Int64 // secrets created, through either process

	leader, standby := relayLeaderStep(t, p1, p2)
	relayHandoverUnderLoadStep(t, apis, servers, p1, p2, leader, standby, &created)
	relayEveryEventOnceStep(t, dbURL, ns, &created)
}

// relayLeaderCheck is whether a process holds the relay, by its /readyz.
func relayLeaderCheck(t *testing.T) func(e *instanceEnv) bool {
	return func(e *instanceEnv) bool {
		nats := e.readyz(t)["checks"].(map[string]any)["nats"].(map[string]any)
		return nats["ok"] == true && strings.Contains(nats["detail"].(string), "relay cursor")
	}
}

// relayLeaderStep waits for one process to become the relay leader, and only one.
func relayLeaderStep(t *testing.T, p1, p2 *instanceEnv) (leader, standby *instanceEnv) {
	t.Helper()
	isLeader := relayLeaderCheck(t)
	deadline := time.Now().Add(10 * time.Second)
	for leader == nil {
		switch {
		case isLeader(p1):
			leader, standby = p1, p2
		case isLeader(p2):
			leader, standby = p2, p1
		case time.Now().After(deadline):
			t.Fatal("no process became the relay leader")
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	if isLeader(standby) {
		t.Fatal("both processes claim the relay")
	}
	return leader, standby
}

// relayHandoverUnderLoadStep: load through both processes; kill -9 the leader while the
// standby keeps taking writes; the standby takes the relay over within 5 s.
func relayHandoverUnderLoadStep(t *testing.T, apis map[*instanceEnv]*apiClient, servers map[*instanceEnv]*server,
	p1, p2, leader, standby *instanceEnv, created *atomic.Int64) {
	t.Helper()
	isLeader := relayLeaderCheck(t)
	create := func(api *apiClient) {
		n := created.Add(1)
		// t.Errorf, not Fatalf: this also runs on the load goroutine.
		if r := api.do("POST", "/api/companies/"+companyA+"/secrets", fmt.Sprintf(`{"name": "s%d", "value": "v"}`, n)); r.status != 201 {
			t.Errorf("create %d: %d %s", n, r.status, r.body)
		}
	}
	for range 40 {
		create(apis[p1])
		create(apis[p2])
	}
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for {
			select {
			case <-stopLoad:
				return
			default:
				create(apis[standby])
			}
		}
	}()
	if err := servers[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-servers[leader].exited
	killedAt := time.Now()
	for !isLeader(standby) {
		if time.Since(killedAt) > 5*time.Second {
			t.Fatalf("the standby did not take over the relay within 5s: %v", standby.readyz(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("relay taken over %s after kill -9", time.Since(killedAt).Round(time.Millisecond))
	for range 20 {
		create(apis[standby]) // some more after the takeover, alongside the load
	}
	close(stopLoad)
	<-loadDone
}

// relayEveryEventOnceStep: the log's head is every secret created, and a consumer of
// ledger.> reads each event once, in order.
func relayEveryEventOnceStep(t *testing.T, dbURL string, ns *natsbus.Embedded, created *atomic.Int64) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	waitSealed(t, conn) // the relay publishes the sealed log
	var head int64
	if err := conn.QueryRow(context.Background(), `SELECT max(position) FROM ledger_events`).Scan(&head); err != nil || head != created.Load() {
		t.Fatalf("head %d, created %d: %v", head, created.Load(), err)
	}
	consumeAll(t, ns.Endpoint(), int(head))
}
