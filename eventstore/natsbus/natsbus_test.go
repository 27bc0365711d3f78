package natsbus

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/lease"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type harness struct {
	store *eventstore.Store
	relay *Relay
	ctx   context.Context
	url   string // the database owner's URL
}

// newHarness runs a store and a relay to ep for the test.
func newHarness(t testing.TB, ep Endpoint) *harness {
	t.Helper()
	return newReplicatedHarness(t, ep, 1)
}

func newReplicatedHarness(t testing.TB, ep Endpoint, replicas int) *harness {
	t.Helper()
	pool, url := pgtest.NewMigratedPool(t)
	wake := make(chan struct{}, 1)
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Committed: []chan<- struct{}{wake}})
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	relay := &Relay{Pool: pool, Events: store, NATS: ep, Replicas: replicas, Wake: wake, Log: log,
		Lease: &lease.Lease{DB: pool, Role: lease.Relay, Holder: lease.NewHolderID(), Log: log}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = store.Run(ctx) }()
	go func() { defer wg.Done(); _ = relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &harness{store: store, relay: relay, ctx: ctx, url: url}
}

func (h *harness) append(t testing.TB, company, stream string, n int) {
	t.Helper()
	for i := range n {
		b, _ := json.Marshal(map[string]int{"i": i})
		if _, err := h.store.Append(context.Background(), stream, eventstore.AnyVersion,
			eventstore.EventData{Type: "secret.version_added", SchemaVersion: 1, CompanyID: company, Payload: b}); err != nil {
			t.Error(err)
			return
		}
	}
	if _, err := h.store.SealedThrough(context.Background()); err != nil {
		t.Error(err)
	}
}

// startsNATS skips a test that starts a NATS server under -short (the fast tier);
// every helper that starts one calls it.
func startsNATS(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts NATS: skipped under -short")
	}
}

func startNATS(t *testing.T, addr string) *Embedded {
	t.Helper()
	startsNATS(t)
	e, err := StartEmbedded(EmbeddedOptions{Addr: addr, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// collect reads every message on ledger.> as the ledger user until want positions have
// arrived, and fails on a gap, a reordering or a duplicate.
func collect(t *testing.T, ep Endpoint, want int) {
	t.Helper()
	nc, err := ep.Connect("test collect")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	var sub *nats.Subscription
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The relay creates the stream with its first publish: wait for it.
		if sub, err = js.SubscribeSync(SubjectPrefix+".>", nats.OrderedConsumer()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var last int64
	for last < int64(want) {
		m, err := sub.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatalf("after position %d: %v", last, err)
		}
		var env Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatal(err)
		}
		if env.Position != last+1 {
			t.Fatalf("received position %d after %d", env.Position, last)
		}
		if m.Subject != "ledger."+env.CompanyID+"."+env.Type || m.Header.Get(nats.MsgIdHdr) != env.EventID {
			t.Fatalf("subject %s / msg id %s for %+v", m.Subject, m.Header.Get(nats.MsgIdHdr), env)
		}
		last = env.Position
	}
	if m, err := sub.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("unexpected extra message %s", m.Data)
	}
}

func TestRelayPublishesEveryEventInOrder(t *testing.T) {
	t.Parallel()
	ns := startNATS(t, "127.0.0.1:0")
	h := newHarness(t, ns.Endpoint())
	h.append(t, "co-a", "s-1", 150)
	h.append(t, "co-b", "s-2", 150)
	collect(t, ns.Endpoint(), 300)
	st := h.relay.Status()
	if !st.Leader || st.Cursor != 300 {
		t.Fatalf("relay status %+v", st)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// NATS is down when the ledger starts: commands still commit, and the relay catches up
// once NATS is there.
func TestRelayCatchesUpWhenNATSArrives(t *testing.T) {
	startsNATS(t)
	t.Parallel()
	addr := freeAddr(t)
	dir := t.TempDir()
	auth, err := EnsureInstanceAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Endpoint{URL: "nats://" + addr, CredsFile: auth.LedgerCredsFile()})
	h.append(t, "co", "s", 40)
	if st := h.relay.Status(); st.Connected {
		t.Fatalf("connected to nothing? %+v", st)
	}
	ns, err := StartEmbedded(EmbeddedOptions{Addr: addr, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	collect(t, ns.Endpoint(), 40)
}

func subscriber(id, company string) Subscriber { return Subscriber{ID: id, CompanyID: company} }

// A subscriber of company A follows A's events, in order, from the consumer the ledger
// created for it, and receives none of company B's. Follow starts before the consumer
// exists and waits for it.
func TestSubscribersAreCompanyScoped(t *testing.T) {
	t.Parallel()
	subA := subscriber("sub-a1", "co-a")
	tb := embeddedBus(t)
	h := newHarness(t, tb.ledger)
	creds := tb.issue(t, subA)

	got := make(chan Envelope, 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, creds, func(e Envelope) error { got <- e; return nil }) }()
	h.append(t, "co-a", "s-a", 2)
	h.append(t, "co-b", "s-b", 5)
	h.append(t, "co-a", "s-a", 3)
	// The consumer arrives after Follow started (and maybe before the relay's stream).
	tb.admin(t).ensure(t, subA)
	var last int64
	for i := range 5 {
		select {
		case e := <-got:
			if e.CompanyID != "co-a" || e.StreamVersion != int64(i+1) || e.Position <= last {
				t.Fatalf("event %d after position %d: %+v", i, last, e)
			}
			last = e.Position
			if p, err := e.Decode(); err != nil || p == nil {
				t.Fatalf("Decode: %v %v", p, err)
			}
		case err := <-done:
			t.Fatalf("Follow ended after %d of 5 events: %v", i, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("received %d of 5 events", i)
		}
	}
	select {
	case e := <-got:
		t.Fatalf("received another company's event: %+v", e)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow: %v", err)
	}

	// A user JWT for the same subscriber signed by a key that is not the account's: refused.
	foreign, _ := nkeys.CreateAccount()
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Permissions = permissions(subA)
	token, err := uc.Encode(foreign)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	if nc, err := nats.Connect(tb.clientURL, nats.UserJWTAndSeed(token, string(seed))); err == nil {
		nc.Close()
		t.Fatal("connected with a JWT of a foreign account")
	}
	// The .creds text the ledger hands out is the standard format: the JWT names the
	// account, is signed by its signing key, and expires.
	uc2, err := jwt.DecodeUserClaims(mustJWT(t, creds.Creds))
	if err != nil {
		t.Fatal(err)
	}
	if uc2.IssuerAccount != tb.authority.Account() || uc2.Issuer == tb.authority.Account() || uc2.Expires == 0 ||
		uc2.Subject != creds.User || !strings.Contains(creds.Creds, "-----BEGIN USER NKEY SEED-----") {
		t.Fatalf("user claims %+v", uc2)
	}
}

func mustJWT(t *testing.T, creds string) string {
	t.Helper()
	token, err := jwt.ParseDecoratedJWT([]byte(creds))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// Follow with no consumer yet polls until ctx ends and then returns nil, not an error.
func TestFollowWaitsForItsConsumerUntilCancelled(t *testing.T) {
	t.Parallel()
	tb := embeddedBus(t)
	subA := subscriber("sub-wait", "co-a")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Follow(ctx, tb.issue(t, subA), func(Envelope) error { return nil }); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("Follow returned after %s, before its context ended", time.Since(start))
	}
}

// follower runs Follow with a subscriber's credentials until the test ends, keeping
// every event it handled.
type follower struct {
	mu  sync.Mutex
	got []Envelope
}

func follow(t *testing.T, creds SubscriberCredentials) *follower {
	t.Helper()
	f := &follower{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, creds, func(e Envelope) error {
			f.mu.Lock()
			f.got = append(f.got, e)
			f.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// waitFor polls until at least n events arrived; false when limit passed first.
func (f *follower) waitFor(n int, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); f.count() < n; time.Sleep(10 * time.Millisecond) { // polling the subscriber
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// inOrder fails the test unless exactly n events arrived, each once, in log order.
func (f *follower) inOrder(t *testing.T, n int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) != n {
		t.Fatalf("received %d events, want %d", len(f.got), n)
	}
	for i, e := range f.got {
		if e.StreamVersion != int64(i+1) || (i > 0 && e.Position <= f.got[i-1].Position) {
			t.Fatalf("event %d: %+v after %+v", i, e, f.got[max(i-1, 0)])
		}
	}
}
