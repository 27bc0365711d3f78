package commands

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/events"
)

// NewRuntime registers its memory on the store: what was appended to the store is in
// memory, current, when the append returns, without a read of the log (neither the
// create nor another runtime's rotation loads the secret into this runtime's memory).
func TestNewRuntimeObservesTheStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "db", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := f.rt.mem.secrets.cached(events.SecretStream(res.SecretID)); !ok || st.latestVersion != 1 {
		t.Fatalf("memory after the create: %v %+v, want the secret at version 1", ok, st)
	}
	another := f.over(newRuntime(f.log, keyHashes{key: testKey}))
	if _, err := another.Rotate(ctx, board, RotateSecret{SecretID: res.SecretID, Value: val("v2")}); err != nil {
		t.Fatal(err)
	}
	st, ok := f.rt.mem.secrets.cached(events.SecretStream(res.SecretID))
	if !ok || st.latestVersion != 2 || st.streamVersion != 2 {
		t.Fatalf("memory after create and rotate: %v %+v, want the secret at version 2", ok, st)
	}
}
