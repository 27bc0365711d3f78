package vaultkv_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

func TestVersionDeletedOrDestroyedAtVaultIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("behind-the-back")
	s1 := mustPut(t, e.p, r, "one")
	mustPut(t, e.p, next(r, 2, s1), "two")
	e.f.DeleteVersions("", "secret", managedPath(r), 1)
	e.f.DestroyVersions("", "secret", managedPath(r), 2)
	cold := e.newProvider(t)
	for vref, value := range map[string]string{"1": "one", "2": "two"} {
		_, err := cold.Resolve(ctx, r, vref)
		wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound, value, e.f.URL(), managedPath(r))
		if msg := ledgererr.MessageOf(err); !strings.Contains(msg, "version "+vref+" is deleted or destroyed at Vault") {
			t.Fatalf("message %q", msg)
		}
	}
	// A version that never existed, and a reference that is no KV version.
	for _, vref := range []string{"9", "01", "x", ""} {
		_, err := cold.Resolve(ctx, r, vref)
		wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound)
	}
}

func TestPinnedValuesAreCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("cached")
	s := mustPut(t, e.p, r, "v")
	cold := e.newProvider(t)
	for range 3 {
		mustResolve(t, cold, r, s.ProviderVersionRef, "v")
	}
	if n := e.f.Calls("data.read"); n != 1 {
		t.Fatalf("data.read called %d times with the cache on, want 1", n)
	}
	// Close wipes the cache; a closed provider keeps nothing.
	_ = cold.Close()
	mustResolve(t, cold, r, s.ProviderVersionRef, "v")
	mustResolve(t, cold, r, s.ProviderVersionRef, "v")
	if n := e.f.Calls("data.read"); n != 3 {
		t.Fatalf("data.read called %d times after Close, want 3", n)
	}
	// A provider without a cache reads every time.
	e.cfg.CacheTTL = 0
	none := e.newProvider(t)
	mustResolve(t, none, r, s.ProviderVersionRef, "v")
	mustResolve(t, none, r, s.ProviderVersionRef, "v")
	if n := e.f.Calls("data.read"); n != 5 {
		t.Fatalf("data.read called %d times without a cache, want 5", n)
	}
}

// A version the ledger just wrote is not cached by its write: deleted at Vault before
// anyone resolved it, it does not resolve (a deletion at Vault is a revocation).
func TestAWriteDoesNotWarmTheCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("unwarmed")
	s := mustPut(t, e.p, r, "v")
	n, _ := strconv.Atoi(s.ProviderVersionRef)
	e.f.DeleteVersions("", "secret", managedPath(r), n)
	_, err := e.p.Resolve(context.Background(), r, s.ProviderVersionRef)
	wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound)
}

func TestSoftDeleteRestoreDestroy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *vaultkv.Config) { c.CacheTTL = 0 })
	ctx := context.Background()
	r := newRef("lifecycle")
	s1 := mustPut(t, e.p, r, "one")
	s2 := mustPut(t, e.p, next(r, 2, s1), "two")
	if err := e.p.SoftDelete(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := e.p.SoftDelete(ctx, r); err != nil {
		t.Fatalf("a repeated soft delete: %v", err)
	}
	for _, vref := range []string{s1.ProviderVersionRef, s2.ProviderVersionRef} {
		_, err := e.p.Resolve(ctx, r, vref)
		wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound)
	}
	if err := e.p.Restore(ctx, r); err != nil {
		t.Fatal(err)
	}
	mustResolve(t, e.p, r, s1.ProviderVersionRef, "one")
	mustResolve(t, e.p, r, s2.ProviderVersionRef, "two")
	if err := e.p.Destroy(ctx, r); err != nil {
		t.Fatal(err)
	}
	if m := e.metadata(t, managedPath(r)); m != nil {
		t.Fatalf("metadata left after destroy: %v", m)
	}
	if err := e.p.Destroy(ctx, r); err != nil {
		t.Fatalf("a repeated destroy: %v", err)
	}
	wantCode(t, e.p.SoftDelete(ctx, r), ledgererr.NotFound, vaultkv.CodeNotFound)
}

func TestExternalValueRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		path string
		data map[string]any
		want string
	}{
		{"apps/value", map[string]any{"value": "v", "user": "u"}, "v"},
		{"apps/single", map[string]any{"token": "t"}, "t"},
		{"apps/many", map[string]any{"user": "u", "password": "p<&>"}, `{"password":"p<&>","user":"u"}`},
		{"apps/number", map[string]any{"port": 5432}, `{"port":5432}`},
		{"apps/value-not-string", map[string]any{"value": 1, "x": "y"}, `{"value":1,"x":"y"}`},
	} {
		e.f.Write("", "secret", tc.path, tc.data)
		r := newRef("ext")
		r.ExternalRef = tc.path
		mustResolve(t, e.p, r, "", tc.want)
	}
}

func TestExternalLatestIsReadEachTimePinnedIsCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("ext")
	r.ExternalRef = "apps/billing/stripe"
	e.f.Write("", "secret", r.ExternalRef, map[string]any{"value": "ext-1"})
	mustResolve(t, e.p, r, "", "ext-1")
	mustResolve(t, e.p, r, "1", "ext-1")
	e.f.Write("", "secret", r.ExternalRef, map[string]any{"value": "ext-2"})
	mustResolve(t, e.p, r, "", "ext-2")
	mustResolve(t, e.p, r, "1", "ext-1")
	mustResolve(t, e.p, r, "2", "ext-2")
	before := e.f.Calls("data.read")
	mustResolve(t, e.p, r, "1", "ext-1")
	mustResolve(t, e.p, r, "", "ext-2")
	if n := e.f.Calls("data.read") - before; n != 1 {
		t.Fatalf("%d data reads, want 1 (the latest only)", n)
	}
	e.f.DeleteVersions("", "secret", r.ExternalRef, 2)
	_, err := e.p.Resolve(context.Background(), r, "")
	wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound, "ext-2")
}
