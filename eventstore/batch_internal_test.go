package eventstore

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Within one batch, an append's condition is checked against the versions the earlier
// appends of the batch left: a write queued just before it makes it conflict.
func TestDecideChecksConditionsAfterEarlierAppendsOfTheBatch(t *testing.T) {
	t.Parallel()
	key, err := integrity.FromSecret(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, Config{Authenticator: key})
	evt := EventData{Type: "x.done", SchemaVersion: 1, CompanyID: "co", Payload: []byte(`{}`)}
	pending := func(stream string, expected int64, cond ...StreamVersion) *pendingAppend {
		p, err := newPending(context.Background(), nil, stream, expected, []EventData{evt})
		if err == nil {
			err = p.setCondition(cond, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	gateAt1 := StreamVersion{Stream: "gate", Version: 1}
	batch := []*pendingAppend{
		pending("log", AnyVersion, gateAt1), // met: gate is at 1
		pending("gate", 1),                  // moves gate to 2
		pending("log", AnyVersion, gateAt1), // no longer met
		pending("log", AnyVersion, StreamVersion{Stream: "gate", Version: 2}),
	}
	st := batchState{headHash: genesisHash, versions: map[string]int64{"gate": 1}, idem: map[idemKey]idemRecord{},
		normPayloads: []string{"{}", "{}", "{}", "{}"}, normMetas: []string{"{}", "{}", "{}", "{}"}}
	outcomes, rows, err := s.decide(batch, st)
	if err != nil {
		t.Fatal(err)
	}
	for i, wantConflict := range []bool{false, false, true, false} {
		if got := ledgererr.CodeOf(outcomes[i].err) == ledgererr.Conflict; got != wantConflict {
			t.Errorf("append %d: conflict %v (%v), want %v", i, got, outcomes[i].err, wantConflict)
		}
	}
	if outcomes[2].conflict != ConflictVersion {
		t.Errorf("the broken condition is reported as %q", outcomes[2].conflict)
	}
	if len(rows.recorded) != 3 {
		t.Errorf("%d events written, want 3", len(rows.recorded))
	}
}
