package commands

import (
	"encoding/json"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
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
	m := newMemory()
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
