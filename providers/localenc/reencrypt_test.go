package localenc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
)

// storedVersion is one row of local_secret_values with what it must decrypt to.
type storedVersion struct {
	ref        providers.Ref
	vref       string
	plaintext  string
	ciphertext []byte
}

// material is a secret's stored data: its wrapped key, the data key it unwraps to under
// s, and its versions.
type material struct {
	wrapped, dataKey []byte
	versions         []storedVersion
}

func readMaterial(t *testing.T, pool *pgxpool.Pool, s *Sealer, company, secret string, want []storedVersion) material {
	t.Helper()
	ctx := context.Background()
	var m material
	if err := pool.QueryRow(ctx, `SELECT wrapped_key FROM local_secret_keys WHERE secret_id = $1`, secret).Scan(&m.wrapped); err != nil {
		t.Fatal(err)
	}
	if m.wrapped != nil {
		dk, err := open(s.master, m.wrapped, aad(aadDataKey, company, secret, 0))
		if err != nil {
			t.Fatalf("the data key of %s does not open under %s", secret, s.key.Fingerprint())
		}
		m.dataKey = dk
	}
	for _, v := range want {
		if err := pool.QueryRow(ctx, `SELECT ciphertext FROM local_secret_values WHERE secret_id = $1 AND ref = $2`, secret, v.vref).Scan(&v.ciphertext); err != nil {
			t.Fatal(err)
		}
		m.versions = append(m.versions, v)
	}
	return m
}

// After a master key leak, `rekey --reencrypt` gives every live secret a fresh data key
// and re-encrypts every stored version under it (same AAD): the old data key opens none
// of the new ciphertexts. A run stopped after some secrets leaves every secret readable
// and the next run finishes it; a purged secret stays shredded.
func TestReencryptGivesFreshDataKeysAndResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	k1 := testProvider(t, pool, 0x41, "k1")
	if err := k1.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
	secrets := putVersions(t, k1)
	purged := secrets["SEC03"][0].ref
	if err := k1.Destroy(ctx, purged); err != nil {
		t.Fatal(err)
	}
	before := map[string]material{}
	for id, vs := range secrets {
		before[id] = readMaterial(t, pool, k1.sealer, vs[0].ref.CompanyID, id, vs)
	}

	k2 := testProvider(t, pool, 0x42, "k2")
	if _, err := k2.Reencrypt(ctx, nil); err == nil {
		t.Fatal("a provider whose key the database does not record re-encrypted")
	} else {
		wantMismatch(t, err, k2)
	}
	if n, err := k1.Rekey(ctx, k2.sealer, true); err != nil || n != 3 {
		t.Fatalf("rekey marking re-encryption: %d, %v", n, err)
	}
	if n, err := k2.PendingReencryption(ctx); err != nil || n != 3 {
		t.Fatalf("pending after the rekey: %d, %v", n, err)
	}
	reencryptInterruptedAndResumed(t, pool, k2, secrets, purged.SecretID)

	resolveAll(t, k2, secrets, purged.SecretID)
	resolveAll(t, testProvider(t, pool, 0x42, "k2 fresh"), secrets, purged.SecretID)
	checkFreshMaterial(t, pool, k2, secrets, before, purged.SecretID)
}

// putVersions stores three versions of each of four secrets, two per company.
func putVersions(t *testing.T, p *Provider) map[string][]storedVersion {
	t.Helper()
	secrets := map[string][]storedVersion{}
	put := func(company, secret string, version int, value string) {
		ref := providers.Ref{CompanyID: company, SecretID: secret, Version: version}
		s, err := p.Put(context.Background(), ref, providers.NewValue([]byte(value)))
		if err != nil {
			t.Fatal(err)
		}
		secrets[secret] = append(secrets[secret], storedVersion{ref: ref, vref: s.ProviderVersionRef, plaintext: value})
	}
	for i, company := range []string{"co-a", "co-a", "co-b", "co-b"} {
		secret := fmt.Sprintf("SEC%02d", i)
		for v := 1; v <= 3; v++ {
			put(company, secret, v, fmt.Sprintf("value %d of %s", v, secret))
		}
	}
	return secrets
}

// reencryptInterruptedAndResumed stops a re-encryption by k2 after its first secret, as
// a crash between two secrets would, checks that everything still resolves, and resumes
// it to the end.
func reencryptInterruptedAndResumed(t *testing.T, pool *pgxpool.Pool, k2 *Provider, secrets map[string][]storedVersion, purged string) {
	t.Helper()
	ctx := context.Background()
	killed := errors.New("killed")
	done := 0
	n, err := k2.Reencrypt(ctx, func() error { done++; return killed })
	if !errors.Is(err, killed) || n != 1 || done != 1 {
		t.Fatalf("interrupted run: %d secrets, %v", n, err)
	}
	resolveAll(t, testProvider(t, pool, 0x42, "k2 fresh"), secrets, purged)
	if n, err := k2.PendingReencryption(ctx); err != nil || n != 2 {
		t.Fatalf("pending after the interrupted run: %d, %v", n, err)
	}
	if n, err := k2.Reencrypt(ctx, nil); err != nil || n != 2 {
		t.Fatalf("resumed run: %d, %v", n, err)
	}
	if n, err := k2.PendingReencryption(ctx); err != nil || n != 0 {
		t.Fatalf("pending after the resumed run: %d, %v", n, err)
	}
	if n, err := k2.Reencrypt(ctx, nil); err != nil || n != 0 {
		t.Fatalf("a run with nothing pending: %d, %v", n, err)
	}
}

// checkFreshMaterial checks that every secret but the purged one has a new data key and
// new ciphertexts that the old data key does not open, and that the purged one has no
// data key.
func checkFreshMaterial(t *testing.T, pool *pgxpool.Pool, k2 *Provider, secrets map[string][]storedVersion, before map[string]material, purged string) {
	t.Helper()
	for id, vs := range secrets {
		after := readMaterial(t, pool, k2.sealer, vs[0].ref.CompanyID, id, vs)
		if id == purged {
			if after.wrapped != nil {
				t.Fatal("the purged secret has a data key again")
			}
			continue
		}
		old := before[id]
		if bytes.Equal(after.wrapped, old.wrapped) || bytes.Equal(after.dataKey, old.dataKey) {
			t.Fatalf("%s kept its data key", id)
		}
		oldAEAD, err := newGCM(old.dataKey)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range after.versions {
			if bytes.Equal(v.ciphertext, old.versions[i].ciphertext) {
				t.Fatalf("%s v%d kept its ciphertext", id, v.ref.Version)
			}
			if _, err := open(oldAEAD, v.ciphertext, aad(aadValue, v.ref.CompanyID, id, v.ref.Version)); err == nil {
				t.Fatalf("the old data key still opens %s v%d", id, v.ref.Version)
			}
		}
	}
}

func resolveAll(t *testing.T, p *Provider, secrets map[string][]storedVersion, purged string) {
	t.Helper()
	for id, vs := range secrets {
		for _, v := range vs {
			got, err := p.Resolve(context.Background(), v.ref, v.vref)
			if id == purged {
				if err == nil {
					t.Fatalf("purged %s v%d resolves", id, v.ref.Version)
				}
				continue
			}
			if err != nil || string(got.Reveal()) != v.plaintext {
				t.Fatalf("%s v%d: %v", id, v.ref.Version, err)
			}
		}
	}
}
