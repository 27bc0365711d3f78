package vaultkv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

func TestCreateWritesMetadataPayloadAndVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *vaultkv.Config) { c.VersionRetention = 7 })
	r := newRef("openai")
	s := mustPut(t, e.p, r, "sk-test")
	if s.ProviderVersionRef != "1" || s.Fingerprint != fingerprint("co-1", val("sk-test")) {
		t.Fatalf("stored %+v", s)
	}
	m := e.metadata(t, managedPath(r))
	if m == nil {
		t.Fatal("no metadata at the managed path")
	}
	want := map[string]any{"paperclip:managed-by": "paperclip", "paperclip:provider-owner": "paperclip",
		"paperclip:deployment-id": "dep-test", "paperclip:company-id": "co-1", "paperclip:secret-key": r.Key,
		"paperclip:environment": "test"}
	if fmt.Sprint(m["custom_metadata"]) != fmt.Sprint(want) {
		t.Fatalf("custom metadata %v, want %v", m["custom_metadata"], want)
	}
	if fmt.Sprint(m["max_versions"]) != "7" || m["cas_required"] != true {
		t.Fatalf("max_versions %v cas_required %v", m["max_versions"], m["cas_required"])
	}
	d, err := e.raw(t).Logical().Read("secret/data/" + managedPath(r))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(d.Data["data"]); string(b) != `{"value":"sk-test"}` {
		t.Fatalf("payload %s", b)
	}
}

func TestRotationConflictsWithAWriterAtVault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("db")
	s1 := mustPut(t, e.p, r, "pw-1")
	e.f.Write("", "secret", managedPath(r), map[string]any{"value": "written-at-vault"})
	_, err := e.p.Put(ctx, next(r, 2, s1), val("pw-2"))
	wantCode(t, err, ledgererr.Conflict, vaultkv.CodeConflict, "pw-2", "written-at-vault", e.f.URL(), e.f.RootToken())
	if msg := ledgererr.MessageOf(err); !strings.Contains(msg, "changed at Vault") || !strings.Contains(msg, "nothing was overwritten") {
		t.Fatalf("message %q", msg)
	}
	var pe *vaultkv.ProviderError
	if !errors.As(err, &pe) || pe.Op != "data.write" || pe.Status != 409 {
		t.Fatalf("cause %#v", pe)
	}
	// Nothing was overwritten: Vault's latest is the other writer's.
	d, err := e.raw(t).Logical().Read("secret/data/" + managedPath(r))
	if err != nil || fmt.Sprint(d.Data["data"]) != "map[value:written-at-vault]" {
		t.Fatalf("latest at Vault %v, %v", d, err)
	}
	mustResolve(t, e.newProvider(t), r, s1.ProviderVersionRef, "pw-1")

	// A create over a path someone else filled is a conflict too.
	r2 := newRef("taken")
	e.f.Write("", "secret", managedPath(r2), map[string]any{"value": "squatter"})
	_, err = e.p.Put(ctx, r2, val("mine"))
	wantCode(t, err, ledgererr.Conflict, vaultkv.CodeConflict, "mine", "squatter")
}

func TestRetriedPutIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("retried")
	a := mustPut(t, e.p, r, "same")
	b := mustPut(t, e.p, r, "same")
	if a != b || a.ProviderVersionRef != "1" {
		t.Fatalf("retried create: %+v %+v", a, b)
	}
	c := mustPut(t, e.p, next(r, 2, a), "two")
	d := mustPut(t, e.p, next(r, 2, a), "two")
	if c != d || c.ProviderVersionRef != "2" {
		t.Fatalf("retried rotation: %+v %+v", c, d)
	}
	// The same version number with another value is not a retry.
	_, err := e.p.Put(ctx, next(r, 2, a), val("different-value"))
	wantCode(t, err, ledgererr.Conflict, vaultkv.CodeConflict, "different-value")
	_, err = e.p.Put(ctx, r, val("different-value"))
	wantCode(t, err, ledgererr.Conflict, vaultkv.CodeConflict, "different-value")
}

func TestDiscardThenRotate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("discard")
	s1 := mustPut(t, e.p, r, "one")
	s2 := mustPut(t, e.p, next(r, 2, s1), "two-failed")
	if err := e.p.Discard(ctx, next(r, 2, s1), s2.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Discard(ctx, next(r, 2, s1), s2.ProviderVersionRef); err != nil {
		t.Fatalf("a repeated discard: %v", err)
	}
	_, err := e.p.Resolve(ctx, next(r, 2, s1), s2.ProviderVersionRef)
	wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound, "two-failed")
	// The next rotation still follows version 1: the destroyed version is the ledger's own.
	s3 := mustPut(t, e.p, next(r, 2, s1), "two")
	if s3.ProviderVersionRef != "3" {
		t.Fatalf("rotation after a discard wrote %q", s3.ProviderVersionRef)
	}
	mustResolve(t, e.newProvider(t), r, s1.ProviderVersionRef, "one")
	mustResolve(t, e.newProvider(t), r, s3.ProviderVersionRef, "two")

	// A discarded create removes the path; the create may then be done again.
	c := newRef("discard-create")
	sc := mustPut(t, e.p, c, "first")
	if err := e.p.Discard(ctx, c, sc.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	if m := e.metadata(t, managedPath(c)); m != nil {
		t.Fatalf("metadata left after a discarded create: %v", m)
	}
	if err := e.p.Discard(ctx, c, sc.ProviderVersionRef); err != nil {
		t.Fatalf("a repeated discard of a create: %v", err)
	}
	if again := mustPut(t, e.p, c, "second"); again.ProviderVersionRef != "1" {
		t.Fatalf("create after discard wrote %q", again.ProviderVersionRef)
	}
}

func TestPutRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	for name, r := range map[string]providers.Ref{
		"no company":        {Key: "k", Version: 1},
		"no key":            {CompanyID: "co-1", Version: 1},
		"version 0":         {CompanyID: "co-1", Key: "k"},
		"rotation, no prev": {CompanyID: "co-1", Key: "k", Version: 2},
		"rotation, bad ref": {CompanyID: "co-1", Key: "k", Version: 2, Previous: "v1"},
	} {
		if _, err := e.p.Put(ctx, r, val("x")); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if n := e.f.Calls("data.write") + e.f.Calls("metadata.write"); n != 0 {
		t.Fatalf("%d writes reached Vault", n)
	}
}

func TestBinaryValueRoundTrips(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("binary")
	bin := "\x00\xff\xfe binary"
	s := mustPut(t, e.p, r, bin)
	mustResolve(t, e.newProvider(t), r, s.ProviderVersionRef, bin)
	// A retried Put of a binary value is recognised too.
	if again := mustPut(t, e.p, r, bin); again != s {
		t.Fatalf("retried binary create %+v, want %+v", again, s)
	}
}
