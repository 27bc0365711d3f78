package eventstore_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// signedLog appends 20 events and signs a checkpoint of every position, so that a
// tampering is located exactly: the first checkpoint the chain disagrees with.
func signedLog(t *testing.T) (*eventstore.Store, string, ed25519.PrivateKey) {
	t.Helper()
	pool, url := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	key, _, err := checkpoint.LoadOrCreateKey(filepath.Join(t.TempDir(), "checkpoint.key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 20 {
		if _, err := s.Append(ctx, "s", int64(i), ev("test.appended", "co", map[string]int{"i": i})); err != nil {
			t.Fatal(err)
		}
		sealed(t, s)
		h, err := s.Head(ctx)
		if err != nil || h.Position != int64(i+1) {
			t.Fatalf("Head = %+v, %v", h, err)
		}
		c := checkpoint.Sign(key, checkpoint.Checkpoint{Position: h.Position, Hash: h.Hash, RecordedAt: h.RecordedAt, InstanceID: "test"})
		if ok, err := s.RecordCheckpoint(ctx, c, checkpoint.PublicKeyText(key.Public().(ed25519.PublicKey))); err != nil || !ok {
			t.Fatalf("RecordCheckpoint = %v, %v", ok, err)
		}
	}
	return s, url, key
}

// audit verifies the chain and compares it with the stored checkpoints.
func audit(t *testing.T, s *eventstore.Store, pub ed25519.PublicKey) (eventstore.VerifyReport, checkpoint.Result) {
	t.Helper()
	ctx := context.Background()
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var positions []int64
	for _, c := range cps {
		positions = append(positions, c.Position)
	}
	rep, err := s.VerifyAt(ctx, positions)
	if err != nil {
		t.Fatal(err)
	}
	chain := checkpoint.Chain{HeadPosition: rep.HeadPosition, BrokenAt: rep.BrokenAt, Observed: map[int64]checkpoint.Point{}}
	for p, c := range rep.Observed {
		chain.Observed[p] = checkpoint.Point{Hash: c.Hash, RecordedAt: c.RecordedAt}
	}
	return rep, checkpoint.Audit(chain, cps, pub)
}

func TestRehashHelperMatchesTheLedgersHash(t *testing.T) {
	t.Parallel()
	s, url, key := signedLog(t)
	before, _ := audit(t, s, key.Public().(ed25519.PublicKey))
	pgtest.Tamper(t, url, pgtest.RehashFrom(1))
	after, res := audit(t, s, key.Public().(ed25519.PublicKey))
	if !after.OK() || string(after.HeadHash) != string(before.HeadHash) || len(res.Findings) != 0 || res.Agreeing != 20 {
		t.Fatalf("re-hashing an untouched log changed it: %+v %+v", after, res)
	}
}

func TestCheckpointsCatchTampering(t *testing.T) {
	t.Parallel()
	// Renumbering rows goes through a high offset: position is the primary key.
	shiftUp := func(from int64) string {
		return `UPDATE ledger_events SET position = position + 1000 WHERE position >= ` + itoa(from) + `;
			UPDATE ledger_events SET position = position - 999 WHERE position > 1000`
	}
	forged := `INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type, schema_version, company_id,
		payload, metadata, recorded_at, prev_hash, hash) VALUES (8, 'evt_forged', 'forged', 1, 'test.appended', 1, 'co',
		'{"i": 999}', '{}', now(), '\x00', '\x00')`
	cases := []struct {
		name     string
		stmts    []string
		chainAt  int64  // where the chain itself breaks (0: internally consistent)
		chainWhy string // prefix of the chain's reason
		first    checkpoint.Finding
	}{
		{"payload edited", []string{`UPDATE ledger_events SET payload = '{"i": 999}' WHERE position = 7`}, 7, "edited", checkpoint.Finding{}},
		{"payload edited and re-hashed", []string{`UPDATE ledger_events SET payload = '{"i": 999}' WHERE position = 7`, pgtest.RehashFrom(7)},
			0, "", checkpoint.Finding{Position: 7, Kind: checkpoint.Rehashed}},
		{"row deleted", []string{`DELETE FROM ledger_events WHERE position = 12`}, 13, "removed or reordered", checkpoint.Finding{}},
		{"row deleted, later rows renumbered and re-hashed", []string{`DELETE FROM ledger_events WHERE position = 12`,
			`UPDATE ledger_events SET position = position + 1000 WHERE position > 12`,
			`UPDATE ledger_events SET position = position - 1001 WHERE position > 1000`, pgtest.RehashFrom(12)},
			0, "", checkpoint.Finding{Position: 12, Kind: checkpoint.Rehashed}},
		{"rows swapped", []string{`UPDATE ledger_events SET position = CASE position WHEN 4 THEN 5 ELSE 4 END + 1000 WHERE position IN (4, 5)`,
			`UPDATE ledger_events SET position = position - 1000 WHERE position > 1000`}, 4, "removed or reordered", checkpoint.Finding{}},
		{"rows swapped and re-hashed", []string{`UPDATE ledger_events SET position = CASE position WHEN 4 THEN 5 ELSE 4 END + 1000 WHERE position IN (4, 5)`,
			`UPDATE ledger_events SET position = position - 1000 WHERE position > 1000`, pgtest.RehashFrom(4)},
			0, "", checkpoint.Finding{Position: 4, Kind: checkpoint.Rehashed}},
		{"forged insert with a correct hash", []string{shiftUp(8), forged, pgtest.RehashFrom(8)},
			0, "", checkpoint.Finding{Position: 8, Kind: checkpoint.Rehashed}},
		{"tail deleted", []string{`DELETE FROM ledger_events WHERE position > 15`}, 0, "", checkpoint.Finding{Position: 16, Kind: checkpoint.Truncated}},
		{"truncated", []string{`TRUNCATE ledger_events`}, 0, "", checkpoint.Finding{Position: 1, Kind: checkpoint.Truncated}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, url, key := signedLog(t)
			pub := key.Public().(ed25519.PublicKey)
			if rep, res := audit(t, s, pub); !rep.OK() || len(res.Findings) != 0 || res.Agreeing != 20 {
				t.Fatalf("before tampering: %+v %+v", rep, res)
			}
			pgtest.Tamper(t, url, tc.stmts...)
			if tc.first.Kind == checkpoint.Rehashed {
				// With the integrity key, the re-hashed rows carry no valid MAC: the chain
				// itself says forged at the first of them. The checkpoints are what is left
				// without the key (verify --pubkey).
				rep, err := s.Verify(context.Background())
				if err != nil || rep.BrokenAt != tc.first.Position || !strings.HasPrefix(rep.Reason, "forged (no valid MAC)") {
					t.Fatalf("with the integrity key: %+v, %v; want forged at %d", rep, err, tc.first.Position)
				}
				s = eventstore.New(pgtest.NewPool(t, url), eventstore.Config{})
			}
			rep, res := audit(t, s, pub)
			if rep.BrokenAt != tc.chainAt || !strings.HasPrefix(rep.Reason, tc.chainWhy) {
				t.Fatalf("chain: broken at %d (%q), want %d (%s)", rep.BrokenAt, rep.Reason, tc.chainAt, tc.chainWhy)
			}
			if tc.chainAt != 0 {
				return // the chain's own break is the finding; checkpoints after it are not compared
			}
			if len(res.Findings) == 0 {
				t.Fatalf("the chain is consistent after tampering and no checkpoint disagrees: %+v", res)
			}
			got := res.Findings[0]
			if got.Position != tc.first.Position || got.Kind != tc.first.Kind || got.Detail == "" {
				t.Fatalf("first finding = %+v, want %s at %d (all: %+v)", got, tc.first.Kind, tc.first.Position, res.Findings)
			}
			if got.Kind == checkpoint.Truncated && !strings.Contains(got.Detail, "truncated after "+itoa(got.Position-1)) {
				t.Fatalf("truncation detail %q", got.Detail)
			}
		})
	}
}

func TestCheckpointSignedByAnotherKeyIsInvalid(t *testing.T) {
	t.Parallel()
	s, url, key := signedLog(t)
	other, _, err := checkpoint.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A forger rewrites the newest checkpoint with a key of their own.
	c := checkpoint.Sign(other, checkpoint.Checkpoint{Position: 20, Hash: h.Hash, RecordedAt: h.RecordedAt, InstanceID: "test"})
	pgtest.Tamper(t, url, `UPDATE ledger_checkpoints SET signature = '\x`+hexOf(c.Signature)+`' WHERE position = 20`)
	rep, res := audit(t, s, key.Public().(ed25519.PublicKey))
	if !rep.OK() || len(res.Findings) != 1 || res.Findings[0].Kind != checkpoint.SignatureInvalid || res.Findings[0].Position != 20 {
		t.Fatalf("findings = %+v", res.Findings)
	}
	if res.Checked != 19 || res.Newest != 19 {
		t.Fatalf("a checkpoint with an invalid signature counted: %+v", res)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func hexOf(b []byte) string { return hex.EncodeToString(b) }
