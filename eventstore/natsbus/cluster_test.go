package natsbus

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// clusterBus starts a 3-node nats-server cluster on loopback (routes, JetStream, operator
// mode with a full resolver on every node) that trusts the operator and accounts of one
// instance setup, and waits until JetStream takes an R3 stream.
func clusterBus(t *testing.T) *testBus {
	t.Helper()
	startsNATS(t)
	auth, err := EnsureInstanceAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBus{}
	// A route port found free can be taken by another test before its node binds it; the
	// node then never gets ready, and the cluster is started again on other ports.
	for attempt := 1; tb.servers == nil; attempt++ {
		tb.servers = startCluster(t, auth)
		if tb.servers == nil && attempt == 3 {
			t.Fatal("a cluster node did not start, three times")
		}
	}
	var clientURLs []string
	for _, srv := range tb.servers {
		clientURLs = append(clientURLs, srv.ClientURL())
	}
	tb.clientURL = strings.Join(clientURLs, ",")
	tb.ledger = Endpoint{URL: tb.clientURL, CredsFile: auth.LedgerCredsFile()}
	if tb.authority, err = LoadAuthority(auth.Config(), DefaultCredsTTL); err != nil {
		t.Fatal(err)
	}
	// The meta leader is elected after the routes are up: poll until the R3 stream takes.
	admin := tb.admin(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := ensureStream(ctx, admin.js, 3)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never took the R3 stream: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the cluster's election
	}
	st, err := admin.js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if ci := st.CachedInfo(); ci.Config.Replicas != 3 || ci.Cluster == nil {
		t.Fatalf("stream %+v", ci.Config)
	}
	return tb
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	var host string
	var port int
	i := strings.LastIndex(addr, ":")
	host = addr[:i]
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		t.Fatal(err)
	}
	return host, port
}

// On a 3-node cluster, subscriber JWTs issued by the ledger's code are confined to their
// company exactly as on the embedded server, and work (fetch, ack).
func TestClusterSubscribersAreConfined(t *testing.T) {
	t.Parallel()
	tb := clusterBus(t)
	assertConfined(t, tb, newReplicatedHarness(t, tb.ledger, 3))
}

// On the cluster, revocation (account JWT pushed with $SYS.REQ.CLAIMS.UPDATE, consumer
// deleted) closes the connection and refuses new ones; expiry does the same.
func TestClusterRevocationAndExpiry(t *testing.T) {
	t.Parallel()
	tb := clusterBus(t)
	assertRevocation(t, tb)
	assertExpiry(t, tb)
}

// Shutting down the node that leads the LEDGER stream while the relay publishes loses
// nothing: the subscriber receives every event once, in log order.
func TestClusterNodeLossLosesNoEvent(t *testing.T) {
	t.Parallel()
	const n = 300
	tb := clusterBus(t)
	admin := tb.admin(t)
	s := subscriber("failover1", "co-a")
	admin.ensure(t, s)
	h := newReplicatedHarness(t, tb.ledger, 3)

	sub := follow(t, tb.issue(t, s))

	appended := make(chan struct{})
	go func() { defer close(appended); h.append(t, "co-a", "s-a", n) }()
	// Once the subscriber is part-way through, shut down the stream's leader.
	if !sub.waitFor(n/4, 30*time.Second) {
		t.Fatalf("received %d events before the node loss", sub.count())
	}
	st, err := admin.js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	leader := st.CachedInfo().Cluster.Leader
	var killed bool
	for _, srv := range tb.servers {
		if srv.Name() == leader {
			srv.Shutdown()
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no node is the stream leader %q", leader)
	}
	<-appended
	if !sub.waitFor(n, 60*time.Second) {
		t.Fatalf("received %d of %d events after the loss of %s (relay %+v)", sub.count(), n, leader, h.relay.Status())
	}
	// Nothing more arrives, and what arrived is each event once, in order.
	time.Sleep(500 * time.Millisecond) // a quiet period: duplicates would show up in it
	sub.inOrder(t, n)
}

// startCluster starts three JetStream nodes routed to each other, and returns them once
// all are ready; nil (after shutting them down) when one is not ready within 10 s.
func startCluster(t *testing.T, auth InstanceAuth) []*server.Server {
	t.Helper()
	routes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	routeURLs := make([]string, len(routes))
	for i, r := range routes {
		routeURLs[i] = "nats-route://" + r
	}
	var servers []*server.Server
	for i, r := range routes {
		host, port := splitHostPort(t, r)
		opts := server.Options{ServerName: fmt.Sprintf("node%d", i), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "ledger-test", Host: host, Port: port},
			Routes:  server.RoutesFromStr(strings.Join(routeURLs, ","))}
		if err := auth.configure(&opts, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		srv, err := server.NewServer(&opts)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		servers = append(servers, srv)
	}
	for _, srv := range servers {
		if !srv.ReadyForConnections(10 * time.Second) {
			for _, s := range servers {
				s.Shutdown()
			}
			return nil
		}
	}
	return servers
}
