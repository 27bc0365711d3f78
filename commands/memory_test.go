package commands

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/queries"
)

func secretEvent(t *testing.T, id string, version int64, typ string, payload any) eventstore.Event {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Event{StreamID: events.SecretStream(id), StreamVersion: version, Type: typ, SchemaVersion: 1,
		CompanyID: "co", Payload: b}
}

// Observe takes events in any state of memory: of streams it does not hold (a later
// event of an evicted or never-loaded stream), twice, in order, and with gaps.
func TestObserveKeepsOnlyWhatFollowsWhatItHolds(t *testing.T) {
	t.Parallel()
	m := newMemory(keyHashes{})
	created := secretEvent(t, "a", 1, events.SecretCreated, events.SecretCreatedV1{SecretID: "a", Name: "A", Key: "a",
		Provider: "local_encrypted", ManagedMode: ManagedByLedger})
	rotated := func(v int) eventstore.Event {
		return secretEvent(t, "a", int64(v), events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: "a", Version: v})
	}
	// A stream memory never held, seen from its second event: ignored, not a crash.
	m.Observe([]eventstore.Event{secretEvent(t, "b", 2, events.SecretDeleted, events.SecretDeletedV1{SecretID: "b"})})
	if _, ok := m.secrets.cached(events.SecretStream("b")); ok {
		t.Fatal("a stream seen from its second event is held")
	}
	m.Observe([]eventstore.Event{created, rotated(2), created, rotated(2)}) // each twice
	st, ok := m.secrets.cached(events.SecretStream("a"))
	if !ok || st.latestVersion != 2 || st.streamVersion != 2 {
		t.Fatalf("after create and rotation, each seen twice: held %v, %+v", ok, st)
	}
	m.Observe([]eventstore.Event{rotated(4)}) // version 3 never seen: a gap
	if _, ok := m.secrets.cached(events.SecretStream("a")); ok {
		t.Fatal("a stream with a gap is still served from memory")
	}
}

// The tail brings another process's writes into memory without any command of this
// process reading the log: a rotation, a freeze and a revocation made through one
// process show in the other's memory.
func TestTailBringsOtherProcessesWritesIntoMemory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	other := otherProcess(t, f)
	sec, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "tailed", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	key, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	// The other process loads all three into memory, then only tails.
	if _, err := other.load(ctx, board.Actor, sec.SecretID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.loadCompany(ctx, "co"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.AuthenticateAgent(ctx, key.Token); err != nil {
		t.Fatal(err)
	}
	log := f.store
	head, err := log.HeadPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tailCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { other.Tail(tailCtx, log, head); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	if _, err := f.h().Rotate(ctx, board, RotateSecret{SecretID: sec.SecretID, Value: val("v2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "tail"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().RevokeKey(ctx, board, key.KeyID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, okS := other.mem.secrets.cached(events.SecretStream(sec.SecretID))
		com, okC := other.mem.companies.cached(events.CompanyStream("co"))
		k, okK := other.mem.keys.cached(events.AgentKeyStream(key.KeyID))
		if okS && st.latestVersion == 2 && okC && com.freeze.frozen && okK && k.revoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the other process's memory has version %d (held %v), frozen %v (%v), revoked %v (%v)",
				st.latestVersion, okS, com.freeze.frozen, okC, k.revoked, okK)
		}
		time.Sleep(TailInterval) // polling memory the tail fills on its own ticks
	}
}
