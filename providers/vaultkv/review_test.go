package vaultkv_test

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

// TestDotKeysHaveTheirOwnManagedPaths: "." and ".." are keys the ledger accepts (its
// keys are [a-z0-9_.-]), and neither may be a path segment; each must still get a
// managed path of its own, or one key's create, rotation or purge reaches the other's
// secret.
func TestDotKeysHaveTheirOwnManagedPaths(t *testing.T) {
	t.Parallel()
	if vaultkv.Sanitize(".") == vaultkv.Sanitize("..") {
		t.Fatalf("Sanitize(\".\") and Sanitize(\"..\") are both %q", vaultkv.Sanitize("."))
	}
	for _, k := range []string{".", "..", ""} {
		if s := vaultkv.Sanitize(k); vaultkv.CheckPath(s, vaultkv.MaxPathLength) != "" || s == k {
			t.Fatalf("Sanitize(%q) = %q, not a segment of its own", k, s)
		}
	}
	e := newEnv(t, nil)
	ctx := context.Background()
	one, two := newRef("x"), newRef("x")
	one.Key, two.Key = ".", ".."
	mustPut(t, e.p, one, "same-value")
	s2, err := e.p.Put(ctx, two, val("same-value"))
	if err != nil {
		t.Fatalf("Put of key \"..\": %v", err)
	}
	if err := e.p.Destroy(ctx, two); err != nil {
		t.Fatal(err)
	}
	mustResolve(t, e.newProvider(t), one, "1", "same-value")
	if s2.ProviderVersionRef != "1" {
		t.Fatalf("key \"..\" stored as %q", s2.ProviderVersionRef)
	}
}
