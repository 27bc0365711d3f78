package localenc

import (
	"context"
	"fmt"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
)

// A read that fails while its rows come (the connection reset or timed out after the
// query was sent: pgx reports that from rows.Err, not from Query) makes every value not
// read yet unavailable (EUNAVAILABLE, retryable), not "no stored value" (ENOTFOUND),
// which turned a lost database connection into a 422 for a value the database holds.
// Here the failure is an error raised by the server after some rows were sent.
func TestAReadCutShortIsUnavailableNotMissing(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	ctx := context.Background()
	writer := testProvider(t, pool, 9, "lost")
	var reqs []providers.VersionRequest
	for i := range 40 {
		ref := providers.Ref{CompanyID: "co", SecretID: fmt.Sprintf("sec-%02d", i), Version: 1}
		st, err := writer.Put(ctx, ref, providers.NewValue([]byte("value")))
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, providers.VersionRequest{Ref: ref, ProviderVersionRef: st.ProviderVersionRef})
	}
	// The last secret's row raises an error once the server reaches it, mid-result.
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION cut_short(id text) RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN
			IF id = 'sec-39' THEN RAISE EXCEPTION 'connection lost' USING ERRCODE = '08006'; END IF;
			RETURN true;
		END $$;
		ALTER TABLE local_secret_values RENAME TO local_secret_values_stored;
		CREATE VIEW local_secret_values AS SELECT secret_id, ref,
			CASE WHEN cut_short(secret_id) THEN ciphertext END AS ciphertext FROM local_secret_values_stored`); err != nil {
		t.Fatal(err)
	}
	reader := testProvider(t, pool, 9, "lost") // nothing cached: every value is read
	notFound := 0
	for i, r := range reader.ResolveMany(ctx, "co", reqs) {
		switch code := ledgererr.CodeOf(r.Err); code {
		case ledgererr.Unavailable, "": // a value read before the cut may be given
		case ledgererr.NotFound:
			notFound++
		default:
			t.Fatalf("value %d: %v (code %q), want unavailable", i, r.Err, code)
		}
	}
	if notFound > 0 {
		t.Fatalf("%d of %d values read as not stored after the read was cut short", notFound, len(reqs))
	}
}
