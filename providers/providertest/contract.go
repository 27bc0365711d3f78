package providertest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/providers"
)

// putResolveRoundTrip checks that a stored value resolves to itself, whatever its
// bytes, and that a reference never stored does not resolve.
func putResolveRoundTrip(t *testing.T, p providers.Provider) {
	r := ref(t)
	for _, v := range []string{"sk-live-roundtrip-1", "ünïcødé ✓", "line1\nline2\x00bin\xff"} {
		r := ref(t)
		s := put(t, p, r, v)
		resolve(t, p, r, s.ProviderVersionRef, v)
	}
	unresolvable(t, p, r, "no-such-version-ref-0000000000000000000000", "sk-live")
}

// versionsAreIndependent checks that each version of a secret, and each secret of a
// company, resolves to its own value, one at a time and in a batch.
func versionsAreIndependent(t *testing.T, p providers.Provider) {
	r1 := ref(t)
	s1 := put(t, p, r1, "value-one")
	r2 := rotation(r1, 2, s1)
	s2 := put(t, p, r2, "value-two")
	r3 := rotation(r1, 3, s2)
	s3 := put(t, p, r3, "value-three")
	if s1.ProviderVersionRef == s2.ProviderVersionRef || s2.ProviderVersionRef == s3.ProviderVersionRef {
		t.Fatalf("versions share a reference: %q %q %q", s1.ProviderVersionRef, s2.ProviderVersionRef, s3.ProviderVersionRef)
	}
	resolve(t, p, r1, s1.ProviderVersionRef, "value-one")
	resolve(t, p, r2, s2.ProviderVersionRef, "value-two")
	resolve(t, p, r3, s3.ProviderVersionRef, "value-three")

	// Another secret of the same company is independent too.
	other := ref(t)
	other.CompanyID = r1.CompanyID
	so := put(t, p, other, "value-other")
	resolve(t, p, other, so.ProviderVersionRef, "value-other")
	resolve(t, p, r1, s1.ProviderVersionRef, "value-one")

	if br, ok := p.(providers.BatchResolver); ok {
		resolveManyAnswersEach(t, br, []providers.VersionRequest{{Ref: r1, ProviderVersionRef: s1.ProviderVersionRef},
			{Ref: r3, ProviderVersionRef: s3.ProviderVersionRef}, {Ref: other, ProviderVersionRef: so.ProviderVersionRef},
			{Ref: r2, ProviderVersionRef: "no-such-version-ref-0000000000000000000000"}},
			[]string{"value-one", "value-three", "value-other"})
	}
}

// resolveManyAnswersEach checks that one ResolveMany answers each request in order: the
// values want for all but the last, and an error for the last, which names a version
// never stored.
func resolveManyAnswersEach(t *testing.T, br providers.BatchResolver, reqs []providers.VersionRequest, want []string) {
	t.Helper()
	got := br.ResolveMany(context.Background(), reqs[0].Ref.CompanyID, reqs)
	if len(got) != len(reqs) {
		t.Fatalf("ResolveMany answered %d of %d", len(got), len(reqs))
	}
	for i, w := range want {
		if got[i].Err != nil || string(got[i].Value.Reveal()) != w {
			t.Fatalf("ResolveMany[%d] = %d bytes, %v", i, got[i].Value.Len(), got[i].Err)
		}
	}
	if got[len(got)-1].Err == nil {
		t.Fatal("ResolveMany resolved a reference that was never stored")
	}
}

// discardRemovesTheWrite checks that a Discard after a failed append removes a create,
// leaves the committed version of a rotation, and may be repeated.
func discardRemovesTheWrite(t *testing.T, p providers.Provider) {
	ctx := context.Background()
	// A create whose append failed: version 1 is gone.
	r := ref(t)
	s, err := p.Put(ctx, r, value("discarded-create"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Discard(ctx, r, s.ProviderVersionRef); err != nil {
		t.Fatalf("Discard v1: %v", err)
	}
	unresolvable(t, p, r, s.ProviderVersionRef, "discarded-create")

	// A rotation whose append failed: the committed version is untouched.
	r1 := ref(t)
	s1 := put(t, p, r1, "kept-one")
	r2 := rotation(r1, 2, s1)
	s2, err := p.Put(ctx, r2, value("discarded-rotation"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Discard(ctx, r2, s2.ProviderVersionRef); err != nil {
		t.Fatalf("Discard v2: %v", err)
	}
	resolve(t, p, r1, s1.ProviderVersionRef, "kept-one")
	// Discarding twice (a retried cleanup) is not an error.
	if err := p.Discard(ctx, r2, s2.ProviderVersionRef); err != nil {
		t.Fatalf("second Discard v2: %v", err)
	}
}

// destroyMakesEveryVersionUnresolvable checks that a Destroy removes every version of
// the secret and nothing else, and may be repeated.
func destroyMakesEveryVersionUnresolvable(t *testing.T, p providers.Provider) {
	ctx := context.Background()
	r1 := ref(t)
	s1 := put(t, p, r1, "destroy-me-one")
	r2 := rotation(r1, 2, s1)
	s2 := put(t, p, r2, "destroy-me-two")
	keep := ref(t)
	keep.CompanyID = r1.CompanyID
	sk := put(t, p, keep, "survivor")
	resolve(t, p, r1, s1.ProviderVersionRef, "destroy-me-one") // warm any cache
	if err := p.Destroy(ctx, version(r1, 0)); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	unresolvable(t, p, r1, s1.ProviderVersionRef, "destroy-me-one")
	unresolvable(t, p, r2, s2.ProviderVersionRef, "destroy-me-two")
	resolve(t, p, keep, sk.ProviderVersionRef, "survivor")
	if err := p.Destroy(ctx, version(r1, 0)); err != nil {
		t.Fatalf("a repeated Destroy (a repeated purge) failed: %v", err)
	}
}

// fingerprintsAreKeyed checks that fingerprints tell equal values of one company from
// different ones, yet are no oracle across companies and no bare hash.
func fingerprintsAreKeyed(t *testing.T, p providers.Provider) {
	ra := ref(t)
	rb := ref(t)
	rb.CompanyID = ra.CompanyID
	a := put(t, p, ra, "hunter2")
	b := put(t, p, rb, "hunter2")
	c := put(t, p, ref(t), "hunter3")
	if a.Fingerprint != b.Fingerprint {
		t.Fatal("equal values of one company have different fingerprints")
	}
	if a.Fingerprint == c.Fingerprint {
		t.Fatal("different values have equal fingerprints")
	}
	// Another company's fingerprints must be no oracle: one who can create secrets
	// must not be able to test a guess of another company's value against them.
	if other := put(t, p, ref(t), "hunter2"); other.Fingerprint == a.Fingerprint {
		t.Fatal("equal values of two companies have equal fingerprints")
	}
	sum := sha256.Sum256([]byte("hunter2"))
	for _, bare := range []string{hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]),
		base64.RawURLEncoding.EncodeToString(sum[:]), "sha256:" + hex.EncodeToString(sum[:])} {
		if strings.EqualFold(a.Fingerprint, bare) {
			t.Fatalf("the fingerprint is a bare SHA-256 of the value: %s", a.Fingerprint)
		}
	}
	if strings.Contains(a.Fingerprint, "hunter2") || strings.Contains(a.ProviderVersionRef, "hunter2") {
		t.Fatal("the stored metadata holds the value")
	}
}

// valuesNeverInErrorsOrPrints checks that no error and no printed form of the stored
// metadata or of a value holds the value.
func valuesNeverInErrorsOrPrints(t *testing.T, p providers.Provider) {
	ctx := context.Background()
	const canary = "canary-7f3a9c-secret"
	r := ref(t)
	s := put(t, p, r, canary)
	if out := fmt.Sprintf("%v %+v %#v", s, s, s); strings.Contains(out, canary) {
		t.Fatalf("Stored prints the value: %s", out)
	}
	// Resolving under another company, another secret or a bogus reference fails
	// without the value.
	wrongCompany := r
	wrongCompany.CompanyID = "other-company"
	wrongSecret := ref(t)
	for name, try := range map[string]func() error{
		"other company":   func() error { _, err := p.Resolve(ctx, wrongCompany, s.ProviderVersionRef); return err },
		"other secret":    func() error { _, err := p.Resolve(ctx, wrongSecret, s.ProviderVersionRef); return err },
		"bogus reference": func() error { _, err := p.Resolve(ctx, r, s.ProviderVersionRef+"x"); return err },
	} {
		err := try()
		if err == nil {
			t.Fatalf("%s: resolved", name)
		}
		if strings.Contains(err.Error(), canary) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), canary) {
			t.Fatalf("%s: the error holds the value: %v", name, err)
		}
	}
	v, err := p.Resolve(ctx, r, s.ProviderVersionRef)
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%v %s %+v %#v %q", v, v, v, v, v); strings.Contains(out, canary) {
		t.Fatalf("a resolved value prints: %s", out)
	}
}

// descriptorAndHealth checks that the descriptor names a known, configured provider and
// that health reports findings.
func descriptorAndHealth(t *testing.T, p providers.Provider) {
	d := p.Descriptor()
	if d.ID != providers.LocalEncrypted && d.ID != providers.AWSSecretsManager && d.ID != providers.HashiCorpVault {
		t.Fatalf("unknown provider id %q", d.ID)
	}
	if d.Label == "" || !d.Configured || !d.SupportsManagedValues {
		t.Fatalf("descriptor %+v", d)
	}
	h := p.Health(context.Background())
	if h.Provider != d.ID || !h.OK || len(h.All()) == 0 {
		t.Fatalf("health %+v", h)
	}
	for _, f := range h.All() {
		if f == "" {
			t.Fatalf("an empty finding in %+v", h)
		}
	}
}
