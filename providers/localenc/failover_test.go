package localenc

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
)

// A read whose session the server ended (pg_terminate_backend sends the 57P01 a
// failover's shutdown sends) is Unavailable, which a resolution answers with 503 and a
// runtime retries, never NotFound, which it would take as the value being gone. Here
// the error comes back from the query itself; a session ended while the rows stream
// in reports it only through rows.Err, which TestPatroniFailoverLosesNoAcknowledgedWrite
// meets under load (it saw "provider_error" 422s before rows.Err was checked).
func TestAReadOnAnEndedSessionIsUnavailableNotNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, url := pgtest.NewMigratedPool(t)
	writer := testProvider(t, pool, 7, "test")
	ref := providers.Ref{CompanyID: "co", SecretID: "s1", Version: 1}
	stored, err := writer.Put(ctx, ref, providers.NewValue([]byte("value-1")))
	if err != nil {
		t.Fatal(err)
	}
	// A reader with empty caches and one connection, which the server then ends.
	readerPool := pgtest.NewPool(t, url+"&pool_max_conns=1")
	reader := testProvider(t, readerPool, 7, "test")
	var pid int
	if err := readerPool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := pgtest.NewPool(t, url).Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	got := reader.ResolveMany(ctx, "co", []providers.VersionRequest{{Ref: ref, ProviderVersionRef: stored.ProviderVersionRef}})
	if c := ledgererr.CodeOf(got[0].Err); c != ledgererr.Unavailable {
		t.Fatalf("read on an ended session: %v (%s), want %s", got[0].Err, c, ledgererr.Unavailable)
	}
	got = reader.ResolveMany(ctx, "co", []providers.VersionRequest{{Ref: ref, ProviderVersionRef: stored.ProviderVersionRef}})
	if got[0].Err != nil || string(got[0].Value.Reveal()) != "value-1" {
		t.Fatalf("the next read: %v", got[0].Err)
	}
}
