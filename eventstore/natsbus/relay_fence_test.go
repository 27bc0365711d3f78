package natsbus

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/lease"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// A relay paused between its lease check and its publish (a stopped process, a long GC
// pause) while another process takes the lease and publishes the same events must not,
// once it resumes after the duplicate window, store them again at the stream's end:
// every publish, the first of a page too, is conditioned on the stream's last sequence.
func TestAPausedStaleRelayPublishesNothing(t *testing.T) {
	t.Parallel()
	ns := startNATS(t, "127.0.0.1:0")
	pool, _ := pgtest.NewMigratedPool(t)
	wake := make(chan struct{}, 1)
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Committed: []chan<- struct{}{wake}})
	log := slog.New(slog.DiscardHandler)
	// A long TTL: the paused relay still believes it holds the lease when it resumes,
	// as a process does whose clock stood still.
	newRelay := func(holder string) *Relay {
		return &Relay{Pool: pool, Events: store, NATS: ns.Endpoint(), Replicas: 1, Log: log,
			Lease: &lease.Lease{DB: pool, Role: lease.Relay, Holder: holder, TTL: time.Hour, Log: log}}
	}
	stale, successor := newRelay("stale"), newRelay("successor")
	stale.Wake = wake
	pause, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = f(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()
	run(store.Run)
	run(stale.Run)
	h := &harness{store: store, relay: stale, ctx: ctx}
	h.append(t, "co-a", "s-1", 10)
	waitFor(t, func() bool { return stale.Status().Cursor == 10 }, "the first relay publishes 10 events")

	// The next page: the stale relay checks its lease, then stops before publishing.
	stale.paused = func() {
		once.Do(func() { close(pause); <-resume })
	}
	h.append(t, "co-a", "s-1", 5)
	<-pause
	if _, err := pool.Exec(ctx, `UPDATE ledger_leases SET holder = 'successor', expires_at = now() + interval '1 hour' WHERE role = $1`, lease.Relay); err != nil {
		t.Fatal(err)
	}
	run(successor.Run)
	waitFor(t, func() bool { return successor.Status().Cursor == 15 }, "the successor publishes the 5 events")
	js := ledgerJetStream(t, ns.Endpoint())
	stream, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the duration under test: the duplicate window passes
	close(resume)
	// It is done with that page once it reads the cursor again, or stops leading.
	waitFor(t, func() bool { st := stale.Status(); return st.Cursor == 15 || !st.Leader }, "the stale relay is done with its page")
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != 15 || info.State.Msgs != 15 {
		t.Fatalf("the stream holds %d messages up to sequence %d; want the 15 events once each", info.State.Msgs, info.State.LastSeq)
	}
	collect(t, ns.Endpoint(), 15)
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func ledgerJetStream(t *testing.T, ep Endpoint) jetstream.JetStream {
	t.Helper()
	nc, err := ep.Connect("test admin")
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

// A row a database writer inserts (no MAC) is never published: the relay stops before
// it, as the checkpoint signer does, and publishes nothing after it.
func TestTheRelayStopsBeforeAForgedEvent(t *testing.T) {
	t.Parallel()
	ns := startNATS(t, "127.0.0.1:0")
	h := newHarness(t, ns.Endpoint())
	relay := h.relay

	h.append(t, "co-a", "s-1", 3)
	runtime := pgtest.NewPool(t, pgtest.RuntimeURL(t, h.url))
	if _, err := runtime.Exec(context.Background(), pgtest.ForgedAppend(pgtest.Forged{EventID: ulid.Make().String(),
		StreamID: "s-forged", StreamVersion: 1, Type: "secret.version_added", SchemaVersion: 1, CompanyID: "co-a", Payload: `{}`})); err != nil {
		t.Fatalf("forged insert as the runtime role: %v", err)
	}
	h.append(t, "co-a", "s-1", 2)
	deadline := time.Now().Add(20 * time.Second)
	for st := relay.Status(); st.Head < 6; st = relay.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("the relay never read the head: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	collect(t, ns.Endpoint(), 3) // positions 1-3, and nothing after them
	if st := relay.Status(); st.Cursor != 3 {
		t.Fatalf("relay cursor %d, want 3 (just before the forged event)", st.Cursor)
	}
}
