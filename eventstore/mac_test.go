package eventstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// forge appends an event with a correct chain hash and the given mac expression as the
// runtime role: what someone holding only the server's database credentials can do.
func forge(t *testing.T, ownerURL, mac string) {
	t.Helper()
	pool := pgtest.NewPool(t, pgtest.RuntimeURL(t, ownerURL))
	if _, err := pool.Exec(context.Background(), pgtest.ForgeEvent("forged", mac)); err != nil {
		t.Fatalf("forged insert as the runtime role: %v", err)
	}
	pool.Close()
}

func appendN(t *testing.T, s *eventstore.Store, stream string, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(context.Background(), stream, eventstore.AnyVersion, ev("test.appended", "co", map[string]int{"i": i})); err != nil {
			t.Fatal(err)
		}
	}
	sealed(t, s)
}

// A row inserted with a correct prev_hash and hash but no valid MAC (none, or one
// under another key) is found by Verify and by Authenticated at its position; the
// chain alone would pass it.
func TestForgedEventsAreFound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, mac string }{
		{"no MAC", "NULL"},
		{"wrong MAC", `'\x` + strings.Repeat("ab", 32) + `'::bytea`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, url := pgtest.NewMigratedPool(t)
			s := startStore(t, pool, eventstore.Config{})
			ctx := context.Background()
			appendN(t, s, "s", 3)
			forge(t, url, tc.mac)
			appendN(t, s, "s2", 2)
			unkeyed, err := eventstore.New(pool, eventstore.Config{}).Verify(ctx)
			if err != nil || !unkeyed.OK() || unkeyed.MACsChecked {
				t.Fatalf("Verify without the key = %+v, %v; want the chain intact (it cannot tell)", unkeyed, err)
			}
			rep, err := s.Verify(ctx)
			if err != nil || rep.BrokenAt != 4 || !strings.HasPrefix(rep.Reason, "forged (no valid MAC)") || rep.HeadPosition != 3 || !rep.MACsChecked {
				t.Fatalf("Verify = %+v, %v; want forged at 4", rep, err)
			}
			auth, err := s.Authenticated(ctx, 0, 6)
			if err != nil || auth.ForgedAt != 4 || auth.Last.Position != 3 || len(auth.Last.Hash) != 32 {
				t.Fatalf("Authenticated(0, 6) = %+v, %v; want forged at 4, last 3", auth, err)
			}
			if auth, err := s.Authenticated(ctx, 3, 6); err != nil || auth.ForgedAt != 4 || auth.Last.Position != 3 {
				t.Fatalf("Authenticated(3, 6) = %+v, %v", auth, err)
			}
		})
	}
}

// Events at or below legacy_through were written before MACs and may lack one; every
// later one the writer appends carries a valid one.
func TestLegacyEventsNeedNoMAC(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	forge(t, url, "NULL")
	forge(t, url, "NULL")
	pgtest.Tamper(t, url, `UPDATE ledger_integrity SET legacy_through = 2`) // as if written before the migration
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	appendN(t, s, "s", 3)
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Checked != 5 || !rep.MACsChecked {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	auth, err := s.Authenticated(ctx, 0, 5)
	if err != nil || auth.ForgedAt != 0 || auth.Last.Position != 5 {
		t.Fatalf("Authenticated = %+v, %v", auth, err)
	}
	var withMAC int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_events WHERE mac IS NOT NULL`).Scan(&withMAC); err != nil || withMAC != 3 {
		t.Fatalf("events with a MAC: %d, %v", withMAC, err)
	}
	forge(t, url, "NULL")
	if rep, err := s.Verify(ctx); err != nil || rep.BrokenAt != 6 {
		t.Fatalf("Verify after a forged event above legacy_through = %+v, %v", rep, err)
	}
}

// A store without the integrity key reads and verifies, but never appends: its events
// would read as forged.
func TestStoreWithoutIntegrityKeyRefusesAppends(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	bare := eventstore.New(pool, eventstore.Config{})
	_, err := bare.Append(context.Background(), "s", eventstore.AnyVersion, ev("test.appended", "co", 1))
	wantCode(t, err, ledgererr.Internal)
	if head, err := s.HeadPosition(context.Background()); err != nil || head != 0 {
		t.Fatalf("head = %d, %v; want nothing written", head, err)
	}
}

// A row whose hash and MAC are copied from an authentic event (the MAC is valid for
// that hash, not for the row's own content) is not authenticated: the signer must not
// sign past it.
func TestACopiedHashAndMACAuthenticateNothing(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	appendN(t, s, "s", 3)
	pgtest.Tamper(t, url, `INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type,
		schema_version, company_id, payload, metadata, recorded_at, prev_hash, hash, mac)
		SELECT 4, '01COPIEDMAC0000000000000004', 'copied', 1, 'forged.event', 1, 'co', '{}', '{}', now(), hash, hash, mac
		FROM ledger_events WHERE position = 3`)
	auth, err := s.Authenticated(ctx, 0, 4)
	if err != nil || auth.ForgedAt != 4 || auth.Last.Position != 3 {
		t.Fatalf("Authenticated = %+v, %v; want forged at 4, last 3", auth, err)
	}
	if evs, err := s.ReadStream(ctx, "copied", 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadStream of the copied row = %d events, %v; want none", len(evs), err)
	}
}

// The reads that decisions are made from leave out a forged row; the log keeps it.
func TestDecisionReadsLeaveOutForgedEvents(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	appendN(t, s, "s", 2)
	forge(t, url, "NULL") // position 3, stream forged-3
	appendN(t, s, "s", 1)
	if evs, err := s.ReadStream(ctx, "forged-3", 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadStream(forged-3) = %d events, %v; want none", len(evs), err)
	}
	if evs, err := s.ReadStream(ctx, "s", 0, 10); err != nil || len(evs) != 3 {
		t.Fatalf("ReadStream(s) = %d events, %v; want 3", len(evs), err)
	}
	byStream, err := s.ReadStreams(ctx, map[string]int64{"forged-3": 0, "s": 1})
	if err != nil || len(byStream["forged-3"]) != 0 || len(byStream["s"]) != 2 {
		t.Fatalf("ReadStreams = %v, %v; want s's 2 events only", byStream, err)
	}
	evs, err := s.ReadAllExcept(ctx, 0, 4, 10, []string{"none"})
	if err != nil || len(evs) != 3 {
		t.Fatalf("ReadAllExcept = %d events, %v; want the 3 authentic ones", len(evs), err)
	}
	for _, e := range evs {
		if e.Position == 3 {
			t.Fatal("ReadAllExcept returned the forged event")
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_events`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("the log holds %d rows, %v; want all 4 (it keeps the forged row)", n, err)
	}
}
