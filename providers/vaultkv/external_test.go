package vaultkv_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

func TestCheckExternalRef(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		ref     string
		refused error // nil: accepted; ErrManagedNamespace or any invalid
	}{
		{"apps/billing/stripe", nil},
		{"paperclip/other-dep/co/key", nil},
		{"paperclip", nil},
		{"paperclip/dep-test/co/key", vaultkv.ErrManagedNamespace},
		{"paperclip/dep-test", vaultkv.ErrManagedNamespace},
		{"apps/../paperclip/dep-test/co/key", errInvalid},
		{"/apps/x", errInvalid},
		{"apps//x", errInvalid},
		{"apps/x/", errInvalid},
		{"apps/with space", errInvalid},
		{"", errInvalid},
		{strings.Repeat("a", vaultkv.MaxPathLength+1), errInvalid},
	} {
		err := e.p.CheckExternalRef(tc.ref)
		switch {
		case tc.refused == nil && err != nil:
			t.Errorf("CheckExternalRef(%.40q) = %v, want accepted", tc.ref, err)
		case tc.refused == vaultkv.ErrManagedNamespace && (!errors.Is(err, vaultkv.ErrManagedNamespace) ||
			providers.ProviderCodeOf(err) != providers.CodeGuardrail):
			t.Errorf("CheckExternalRef(%.40q) = %v, want the managed-namespace guardrail", tc.ref, err)
		case tc.refused == errInvalid && ledgererr.CodeOf(err) != ledgererr.Invalid:
			t.Errorf("CheckExternalRef(%.40q) = %v, want EINVALID", tc.ref, err)
		}
	}
	if got := e.p.ExternalRefName("apps/billing/stripe"); got != "secret/apps/billing/stripe" {
		t.Fatalf("ExternalRefName = %q", got)
	}
	// Resolution applies the guardrail too, before any call.
	r := newRef("ext")
	r.ExternalRef = "paperclip/dep-test/co-1/key"
	if _, err := e.p.Resolve(context.Background(), r, ""); !errors.Is(err, vaultkv.ErrManagedNamespace) {
		t.Fatalf("Resolve of a managed path as external: %v", err)
	}
	if n := e.f.Calls("data.read"); n != 0 {
		t.Fatalf("%d data reads for refused references", n)
	}
}

var errInvalid = errors.New("invalid")

func TestLinkReadsMetadataOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	path := "apps/billing/stripe"
	e.f.Write("", "secret", path, map[string]any{"value": "v1"})
	e.f.Write("", "secret", path, map[string]any{"value": "v2"})
	e.f.Write("", "secret", path, map[string]any{"value": "v3"})
	e.f.DestroyVersions("", "secret", path, 2)
	e.f.DeleteVersions("", "secret", path, 3)
	r := newRef("linked")
	s, err := e.p.Link(ctx, r, path, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.ProviderVersionRef != "" || s.Fingerprint != fingerprint("co-1", val("vault_v1:secret/apps/billing/stripe:")) {
		t.Fatalf("stored %+v", s)
	}
	pinned, err := e.p.Link(ctx, r, path, "1")
	if err != nil || pinned.ProviderVersionRef != "1" || pinned.Fingerprint == s.Fingerprint {
		t.Fatalf("pinned link %+v, %v", pinned, err)
	}
	if _, err := e.p.Link(ctx, r, path, "3"); err != nil {
		t.Fatalf("a soft-deleted version may be linked (it can be undeleted): %v", err)
	}
	for _, vref := range []string{"2", "9"} {
		_, err := e.p.Link(ctx, r, path, vref)
		wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound)
	}
	_, err = e.p.Link(ctx, r, "apps/missing", "")
	wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound)
	for _, vref := range []string{"0", "-1", "v1", "01"} {
		if _, err := e.p.Link(ctx, r, path, vref); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("Link version %q: %v, want EINVALID", vref, err)
		}
	}
	if _, err := e.p.Link(ctx, r, "paperclip/dep-test/co-1/x", ""); !errors.Is(err, vaultkv.ErrManagedNamespace) {
		t.Fatalf("Link under the managed root: %v", err)
	}
	// A secret whose custom metadata says the ledger manages it is refused wherever it is.
	e.f.Write("", "secret", "apps/copied", map[string]any{"value": "x"})
	e.markManaged(t, "apps/copied")
	if _, err := e.p.Link(ctx, r, "apps/copied", ""); !errors.Is(err, vaultkv.ErrManagedSecret) ||
		providers.ProviderCodeOf(err) != providers.CodeGuardrail {
		t.Fatalf("Link of a managed-by secret: %v", err)
	}
	if n := e.f.Calls("data.read"); n != 0 {
		t.Fatalf("Link read data %d times", n)
	}
}

// markManaged sets the ledger's managed-by key in path's custom metadata, as a copy of a
// managed secret would carry it.
func (e *env) markManaged(t *testing.T, path string) {
	t.Helper()
	_, err := e.raw(t).Logical().Write("secret/metadata/"+path, map[string]any{
		"custom_metadata": map[string]any{vaultkv.CustomManagedBy: "someone-else"}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestManagedByLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.f.Write("", "secret", "apps/plain", map[string]any{"value": "x"})
	e.f.Write("", "secret", "apps/copied", map[string]any{"value": "x"})
	e.markManaged(t, "apps/copied")
	for path, want := range map[string]bool{"apps/plain": false, "apps/copied": true, "apps/missing": false,
		"paperclip/dep-test/co-1/k": true} {
		got, err := e.p.ManagedByLedger(ctx, path)
		if err != nil || got != want {
			t.Errorf("ManagedByLedger(%q) = %v, %v; want %v", path, got, err, want)
		}
	}
	reads := e.f.Calls("metadata.read")
	if reads != 3 {
		t.Fatalf("%d metadata reads, want 3 (none for the managed root)", reads)
	}
	if got, err := e.p.ManagedByLedger(ctx, "apps/copied"); err != nil || !got || e.f.Calls("metadata.read") != reads {
		t.Fatalf("cached answer %v, %v; reads %d", got, err, e.f.Calls("metadata.read"))
	}
	if _, err := e.p.ManagedByLedger(ctx, "apps/../x"); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("a malformed path: %v", err)
	}
	// A failure is the mapped error, not an answer.
	e.f.FailNext("metadata.read", 403, 1)
	_, err := e.p.ManagedByLedger(ctx, "apps/other")
	wantCode(t, err, ledgererr.Forbidden, vaultkv.CodeAccessDenied)
}
