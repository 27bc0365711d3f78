package localenc

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func testProvider(t *testing.T, pool *pgxpool.Pool, b byte, source string) *Provider {
	t.Helper()
	var raw [KeySize]byte
	for i := range raw {
		raw[i] = b
	}
	p, err := NewProvider(pool, NewMasterKey(raw, source), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func recordedFingerprint(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var fp string
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*), coalesce(max(key_fingerprint), '') FROM local_encrypted_key_check`).Scan(&n, &fp); err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Fatalf("%d key check rows", n)
	}
	return fp
}

func wantMismatch(t *testing.T, err error, p *Provider) *MismatchError {
	t.Helper()
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *MismatchError", err)
	}
	msg := err.Error()
	source := strings.TrimPrefix(p.sealer.key.Source, "env ") // "the key in PAPERCLIP_SECRETS_MASTER_KEY"
	if !strings.Contains(msg, p.sealer.key.Fingerprint()) || !strings.Contains(msg, source) {
		t.Fatalf("message does not name the configured key's fingerprint and source: %s", msg)
	}
	if strings.Contains(msg, hex.EncodeToString(p.sealer.key.key[:])) {
		t.Fatalf("message prints the key: %s", msg)
	}
	return me
}

func TestKeyCheckRecordedOnFirstStartThenMatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	p := testProvider(t, pool, 1, "/keys/k1")

	if st, err := VerifyKey(ctx, pool, p.sealer); err != nil || st != KeyNew {
		t.Fatalf("empty database: %v, %v", st, err)
	}
	if fp := recordedFingerprint(t, pool); fp != "" {
		t.Fatalf("VerifyKey wrote a check: %s", fp)
	}
	if err := p.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
	if fp := recordedFingerprint(t, pool); fp != p.sealer.key.Fingerprint() {
		t.Fatalf("recorded %q, want %q", fp, p.sealer.key.Fingerprint())
	}
	if st, err := VerifyKey(ctx, pool, p.sealer); err != nil || st != KeyRecorded {
		t.Fatalf("after recording: %v, %v", st, err)
	}
	// The same key from another source (a file instead of the env var) matches too.
	same := testProvider(t, pool, 1, "env "+EnvMasterKey)
	if err := same.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestKeyCheckRefusesAnotherKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	k1 := testProvider(t, pool, 1, "/keys/k1")
	k2 := testProvider(t, pool, 2, "/keys/k2")
	if err := k1.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
	err := k2.EnsureKeyCheck(ctx)
	me := wantMismatch(t, err, k2)
	if me.Recorded != k1.sealer.key.Fingerprint() || !strings.Contains(err.Error(), k1.sealer.key.Fingerprint()) {
		t.Fatalf("the recorded fingerprint is not named: %v", err)
	}
	if fp := recordedFingerprint(t, pool); fp != k1.sealer.key.Fingerprint() {
		t.Fatalf("a refused key changed the check: %s", fp)
	}

	// The sealed check decides, not only the fingerprint column: a row naming k2's
	// fingerprint over k1's ciphertext does not let k2 in, nor k1.
	if _, err := pool.Exec(ctx, `UPDATE local_encrypted_key_check SET key_fingerprint = $1`, k2.sealer.key.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Provider{k1, k2} {
		if _, err := VerifyKey(ctx, pool, p.sealer); err == nil {
			t.Fatalf("%s accepted by a tampered check", p.sealer.key.Source)
		}
	}
}

// An instance from before the key check has data keys but no check row: the right key
// is verified against a stored data key and the check is recorded; a wrong one is
// refused and nothing is recorded.
func TestKeyCheckOnAnInstanceThatPredatesIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	k1 := testProvider(t, pool, 1, "/keys/k1")
	k2 := testProvider(t, pool, 2, "env "+EnvMasterKey)
	ref := providers.Ref{CompanyID: "co", SecretID: "sec-legacy", Version: 1}
	if _, err := k1.Put(ctx, ref, providers.NewValue([]byte("legacy-value"))); err != nil {
		t.Fatal(err)
	}
	if fp := recordedFingerprint(t, pool); fp != "" {
		t.Fatalf("Put recorded a check: %s", fp)
	}

	me := wantMismatch(t, k2.EnsureKeyCheck(ctx), k2)
	if me.Recorded != "" || me.Secret != "sec-legacy" || !strings.Contains(me.Error(), EnvMasterKey) {
		t.Fatalf("legacy mismatch = %+v (%v)", me, me)
	}
	if fp := recordedFingerprint(t, pool); fp != "" {
		t.Fatalf("a refused key was recorded: %s", fp)
	}

	if st, err := VerifyKey(ctx, pool, k1.sealer); err != nil || st != KeyUnrecorded {
		t.Fatalf("right key on a legacy instance: %v, %v", st, err)
	}
	if err := k1.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
	if fp := recordedFingerprint(t, pool); fp != k1.sealer.key.Fingerprint() {
		t.Fatalf("recorded %q", fp)
	}
	v, err := k1.Resolve(ctx, ref, mustRef(t, pool, ref.SecretID))
	if err != nil || string(v.Reveal()) != "legacy-value" {
		t.Fatalf("resolve after the check: %v", err)
	}
	wantMismatch(t, k2.EnsureKeyCheck(ctx), k2)
}

// An instance already started once with another key (data keys under two master
// keys) is refused whichever of the two keys is configured.
func TestKeyCheckRefusesAMixedLegacyInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	k1 := testProvider(t, pool, 1, "/keys/k1")
	k2 := testProvider(t, pool, 2, "/keys/k2")
	now := time.Now()
	for i, p := range []*Provider{k1, k2} {
		secret := []string{"sec-old", "sec-new"}[i]
		if _, err := pool.Exec(ctx, `INSERT INTO local_secret_keys (secret_id, company_id, wrapped_key, created_at) VALUES ($1, 'co', $2, $3)`,
			secret, p.sealer.NewDataKey("co", secret), now.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if me := wantMismatch(t, k1.EnsureKeyCheck(ctx), k1); me.Secret != "sec-new" {
		t.Fatalf("k1: %+v", me)
	}
	if me := wantMismatch(t, k2.EnsureKeyCheck(ctx), k2); me.Secret != "sec-old" {
		t.Fatalf("k2: %+v", me)
	}
	if fp := recordedFingerprint(t, pool); fp != "" {
		t.Fatalf("recorded %q", fp)
	}
}

// Rekey records the new key's check in the rewrap's transaction; a provider whose key
// does not match the check cannot rekey.
func TestRekeyMovesTheKeyCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	k1 := testProvider(t, pool, 1, "/keys/k1")
	k2 := testProvider(t, pool, 2, "/keys/k2")
	k3 := testProvider(t, pool, 3, "/keys/k3")
	if err := k1.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
	ref := providers.Ref{CompanyID: "co", SecretID: "sec-1", Version: 1}
	if _, err := k1.Put(ctx, ref, providers.NewValue([]byte("v1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := k3.Rekey(ctx, k2.sealer, false); err == nil {
		t.Fatal("a provider with the wrong key rekeyed")
	} else {
		wantMismatch(t, err, k3)
	}
	if fp := recordedFingerprint(t, pool); fp != k1.sealer.key.Fingerprint() {
		t.Fatalf("a refused rekey changed the check: %s", fp)
	}
	n, err := k1.Rekey(ctx, k2.sealer, false)
	if err != nil || n != 1 {
		t.Fatalf("rekey: %d, %v", n, err)
	}
	if st, err := VerifyKey(ctx, pool, k2.sealer); err != nil || st != KeyRecorded {
		t.Fatalf("new key after rekey: %v, %v", st, err)
	}
	wantMismatch(t, k1.EnsureKeyCheck(ctx), k1)
	v, err := k2.Resolve(ctx, ref, mustRef(t, pool, ref.SecretID))
	if err != nil || string(v.Reveal()) != "v1" {
		t.Fatalf("resolve under the new key: %v", err)
	}
}

func mustRef(t *testing.T, pool *pgxpool.Pool, secret string) string {
	t.Helper()
	var ref string
	if err := pool.QueryRow(context.Background(), `SELECT ref FROM local_secret_values WHERE secret_id = $1`, secret).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	return ref
}
