package natsbus

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/lease"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// A relay whose lease another process takes stops leading and never moves the cursor
// again; given the lease back, it resumes from its cursor.
func TestRelayPublishesOnlyWhileItHoldsTheLease(t *testing.T) {
	t.Parallel()
	ns := startNATS(t, "127.0.0.1:0")
	pool, _ := pgtest.NewMigratedPool(t)
	wake := make(chan struct{}, 1)
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Committed: []chan<- struct{}{wake}})
	log := slog.New(slog.DiscardHandler)
	relay := &Relay{Pool: pool, Events: store, NATS: ns.Endpoint(), Replicas: 1, Wake: wake, Log: log,
		Lease: &lease.Lease{DB: pool, Role: lease.Relay, Holder: "relay-under-test", TTL: time.Second, Log: log}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = store.Run(ctx) }()
	go func() { defer wg.Done(); _ = relay.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	h := &harness{store: store, relay: relay, ctx: ctx}

	h.append(t, "co-a", "s-1", 10)
	waitCursor := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for relay.Status().Cursor != want || !relay.Status().Leader {
			if time.Now().After(deadline) {
				t.Fatalf("relay status %+v, want leader at cursor %d", relay.Status(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCursor(10)

	// Another process holds the lease now (as after this one was paused past its expiry).
	if _, err := pool.Exec(context.Background(), `UPDATE ledger_leases SET holder = 'other', expires_at = now() + interval '1 hour' WHERE role = $1`, lease.Relay); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for relay.Status().Leader || relay.Lease.Held() {
		if time.Now().After(deadline) {
			t.Fatalf("the relay still leads on a lease it lost: %+v", relay.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.append(t, "co-a", "s-1", 5)
	var cursor int64
	// Longer than a renewal period and several relay polls: the cursor stays.
	time.Sleep(1500 * time.Millisecond) // the duration under test, not synchronisation
	if err := pool.QueryRow(context.Background(), `SELECT position FROM relay_cursors WHERE name = $1`, relayName).Scan(&cursor); err != nil {
		t.Fatal(err)
	}
	if cursor != 10 || relay.Status().Leader {
		t.Fatalf("a relay without the lease moved the cursor to %d (status %+v)", cursor, relay.Status())
	}

	// The other process lets go: this one takes over and catches up.
	if _, err := pool.Exec(context.Background(), `DELETE FROM ledger_leases WHERE role = $1`, lease.Relay); err != nil {
		t.Fatal(err)
	}
	waitCursor(15)
	collect(t, ns.Endpoint(), 15)
}
