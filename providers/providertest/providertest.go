package providertest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secretsledger/secretsledger/providers"
)

// NewProvider returns a fresh provider for one subtest; it registers its own cleanup.
type NewProvider func(t *testing.T) providers.Provider

var seq atomic.Int64

// ref returns a new secret's version 1 under a company of its own, so that subtests
// sharing a store never meet.
func ref(t *testing.T) providers.Ref {
	n := seq.Add(1)
	return providers.Ref{CompanyID: fmt.Sprintf("co%d%x", n, sha256.Sum256([]byte(t.Name())))[:20], SecretID: fmt.Sprintf("SEC%023d", n),
		Version: 1, Key: fmt.Sprintf("key-%d", n)}
}

func version(r providers.Ref, v int) providers.Ref { r.Version = v; return r }

// rotation is version v of r's secret following the stored version prev, as the
// ledger's rotation names it (Ref.Previous: check-and-set providers expect it).
func rotation(r providers.Ref, v int, prev providers.Stored) providers.Ref {
	r.Version, r.Previous = v, prev.ProviderVersionRef
	return r
}

func value(s string) providers.Value { return providers.NewValue([]byte(s)) }

// put stores v and, for providers that stage versions, commits it as the ledger does
// after its append.
func put(t *testing.T, p providers.Provider, r providers.Ref, v string) providers.Stored {
	t.Helper()
	ctx := context.Background()
	s, err := p.Put(ctx, r, value(v))
	if err != nil {
		t.Fatalf("Put v%d: %v", r.Version, err)
	}
	if s.ProviderVersionRef == "" || s.Fingerprint == "" {
		t.Fatalf("Put v%d stored %+v: a reference and a fingerprint are required", r.Version, s)
	}
	if c, ok := p.(providers.Committer); ok {
		if err := c.Commit(ctx, r, s.ProviderVersionRef); err != nil {
			t.Fatalf("Commit v%d: %v", r.Version, err)
		}
	}
	return s
}

func resolve(t *testing.T, p providers.Provider, r providers.Ref, vref, want string) {
	t.Helper()
	got, err := p.Resolve(context.Background(), r, vref)
	if err != nil {
		t.Fatalf("Resolve v%d: %v", r.Version, err)
	}
	if string(got.Reveal()) != want {
		t.Fatalf("Resolve v%d returned another value (%d bytes, want %d)", r.Version, got.Len(), len(want))
	}
}

func unresolvable(t *testing.T, p providers.Provider, r providers.Ref, vref, secretValue string) {
	t.Helper()
	v, err := p.Resolve(context.Background(), r, vref)
	if err == nil {
		t.Fatalf("v%d still resolves (%d bytes)", r.Version, v.Len())
	}
	if strings.Contains(err.Error(), secretValue) {
		t.Fatalf("the error of an unresolvable version holds its value: %v", err)
	}
}

// Run runs the contract against the providers newProvider returns: each case on a
// fresh provider, in parallel.
func Run(t *testing.T, newProvider NewProvider) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, p providers.Provider)
	}{
		{"PutResolveRoundTrip", putResolveRoundTrip},
		{"VersionsAreIndependent", versionsAreIndependent},
		{"DiscardRemovesTheWrite", discardRemovesTheWrite},
		{"DestroyMakesEveryVersionUnresolvable", destroyMakesEveryVersionUnresolvable},
		{"FingerprintsAreKeyed", fingerprintsAreKeyed},
		{"ValuesNeverInErrorsOrPrints", valuesNeverInErrorsOrPrints},
		{"DescriptorAndHealth", descriptorAndHealth},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newProvider(t))
		})
	}
}
