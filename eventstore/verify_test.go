package eventstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// tamper runs stmt as superuser with triggers off, as an attacker with database access
// would.
func tamper(t *testing.T, url, stmt string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func TestVerifyReportsTheTamperedPosition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		stmt string
		want int64
	}{
		{"payload edited", `UPDATE ledger_events SET payload = '{"i": 999}' WHERE position = 7`, 7},
		{"metadata edited", `UPDATE ledger_events SET metadata = '{"actorId": "someone-else"}' WHERE position = 3`, 3},
		{"type edited", `UPDATE ledger_events SET event_type = 'secret.deleted' WHERE position = 11`, 11},
		{"row deleted", `DELETE FROM ledger_events WHERE position = 12`, 13},
		{"rows swapped", `UPDATE ledger_events SET position = CASE position WHEN 4 THEN 5 ELSE 4 END + 1000 WHERE position IN (4, 5);
			UPDATE ledger_events SET position = position - 1000 WHERE position > 1000`, 4},
		{"hash recomputed by forger without the chain", `UPDATE ledger_events SET payload = '{"i": 1}', hash = prev_hash WHERE position = 9`, 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, url := pgtest.NewMigratedPool(t)
			s := startStore(t, pool, eventstore.Config{})
			ctx := context.Background()
			for i := range 20 {
				if _, err := s.Append(ctx, "s", int64(i), ev("test.appended", "co", map[string]int{"i": i})); err != nil {
					t.Fatal(err)
				}
			}
			sealed(t, s)
			if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
				t.Fatalf("Verify before tampering = %+v, %v", rep, err)
			}
			tamper(t, url, tc.stmt)
			rep, err := s.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.BrokenAt != tc.want || rep.Reason == "" || rep.HeadPosition >= tc.want {
				t.Fatalf("Verify = %+v, want broken at %d", rep, tc.want)
			}
		})
	}
}

// VerifyRange reads only its range: a break before it goes unseen, a break inside it
// is found at its position, the first row's own hash is still checked, and a missing
// first row is reported rather than silently skipped.
func TestVerifyRange(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	for i := range 30 {
		if _, err := s.Append(ctx, "s", int64(i), ev("test.appended", "co", map[string]int{"i": i})); err != nil {
			t.Fatal(err)
		}
	}
	sealed(t, s)
	verifyRange := func(from, to int64) eventstore.VerifyReport {
		t.Helper()
		rep, err := s.VerifyRange(ctx, from, to, []int64{from})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := verifyRange(10, 30)
	if !rep.OK() || rep.Checked != 21 || rep.HeadPosition != 30 || len(rep.Observed[10].Hash) != 32 {
		t.Fatalf("VerifyRange(10, 30) of an intact log = %+v", rep)
	}
	if rep := verifyRange(1, 30); !rep.OK() || rep.Checked != 30 {
		t.Fatalf("VerifyRange(1, 30) = %+v", rep)
	}

	pgtest.Tamper(t, url, `UPDATE ledger_events SET payload = '{"i": 999}' WHERE position = 5`)
	if rep := verifyRange(10, 30); !rep.OK() {
		t.Fatalf("VerifyRange(10, 30) with an edit at 5 = %+v, want ok (5 is outside)", rep)
	}
	if rep, err := s.Verify(ctx); err != nil || rep.BrokenAt != 5 {
		t.Fatalf("Verify with an edit at 5 = %+v, %v", rep, err)
	}

	pgtest.Tamper(t, url, `UPDATE ledger_events SET payload = '{"i": 999}' WHERE position = 10`)
	if rep := verifyRange(10, 30); rep.BrokenAt != 10 || rep.Checked != 1 {
		t.Fatalf("VerifyRange(10, 30) with the first row edited = %+v, want broken at 10", rep)
	}
	pgtest.Tamper(t, url, `UPDATE ledger_events SET payload = '{"i": 9}' WHERE position = 10`,
		`UPDATE ledger_events SET metadata = '{"actorId": "someone-else"}' WHERE position = 20`)
	if rep := verifyRange(10, 30); rep.BrokenAt != 20 || rep.HeadPosition != 19 || rep.Reason == "" {
		t.Fatalf("VerifyRange(10, 30) with an edit at 20 = %+v, want broken at 20", rep)
	}
	pgtest.Tamper(t, url, `DELETE FROM ledger_events WHERE position = 10`)
	if rep := verifyRange(10, 30); rep.BrokenAt != 11 || !strings.Contains(rep.Reason, "starts at position 10") {
		t.Fatalf("VerifyRange(10, 30) without row 10 = %+v, want broken at 11", rep)
	}
}
