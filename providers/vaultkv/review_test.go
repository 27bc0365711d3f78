package vaultkv_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"

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

// hostileVault answers lookup-self like Vault and every other call with a 200 whose
// body is size bytes of JSON whitespace before "{}"; written counts what it sent.
func hostileVault(t *testing.T, size int) (addr string, written *atomic.Int64) {
	t.Helper()
	written = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/auth/token/lookup-self" {
			_, _ = io.WriteString(w, `{"data":{"ttl":0,"renewable":false,"policies":["root"]}}`)
			return
		}
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, written
}

// TestHugeAnswersAreRefused: a hostile or broken server's answer is read up to
// MaxResponseBytes, never whole: the call fails as provider_error, whatever it was.
func TestHugeAnswersAreRefused(t *testing.T) {
	t.Parallel()
	size := vaultkv.MaxResponseBytes + 8<<20
	addr, written := hostileVault(t, size)
	s := newSession(t, addr, "hvs.hostile-test-token")
	p, err := vaultkv.New(vaultkv.Config{DeploymentID: "dep-test", Fingerprint: fingerprint}, s)
	if err != nil {
		t.Fatal(err)
	}
	r := newRef("huge")
	_, err = p.Resolve(context.Background(), r, "1")
	wantCode(t, err, ledgererr.BadGateway, vaultkv.CodeProviderError, "hvs.hostile-test-token", addr)
	if n := written.Load(); n >= int64(size) {
		t.Fatalf("the whole %d-byte answer was sent (%d bytes)", size, n)
	}
	// An answer within the bound is read as before.
	small, _ := hostileVault(t, 1<<20)
	p2, err := vaultkv.New(vaultkv.Config{DeploymentID: "dep-test", Fingerprint: fingerprint}, newSession(t, small, "hvs.t"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p2.Resolve(context.Background(), r, "1")
	wantCode(t, err, ledgererr.NotFound, vaultkv.CodeNotFound)
}

// TestKVv1MountRefusedBeforeAnyWrite: on a KV version 1 engine, KV v2's API paths are
// plain keys: a create would store the plaintext at "<mount>/data/<path>", unversioned
// and outside anything the ledger manages, then fail. The provider must find out what
// the mount is before it writes, refuse as a configuration error (422), and write
// nothing.
func TestKVv1MountRefusedBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *vaultkv.Config) { c.Mount = "kv1" })
	e.f.Mount("", "kv1", 1)
	r := newRef("v1")
	_, err := e.p.Put(context.Background(), r, val("plaintext-on-v1"))
	wantCode(t, err, ledgererr.Invalid, vaultkv.CodeInvalidRequest, "plaintext-on-v1", e.f.URL(), e.f.RootToken())
	if !strings.Contains(ledgererr.MessageOf(err), "version 1") {
		t.Fatalf("message %q does not say the mount is KV version 1", ledgererr.MessageOf(err))
	}
	for _, kind := range []string{"data", "metadata"} {
		s, err := e.raw(t).Logical().Read("kv1/" + kind + "/" + managedPath(r))
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			t.Fatalf("a KV v1 secret was written at kv1/%s/...: %v", kind, s.Data)
		}
	}
	// A KV v2 mount still takes writes, and the check is made once per provider.
	e2 := newEnv(t, nil)
	mustPut(t, e2.p, newRef("a"), "a")
	mustPut(t, e2.p, newRef("b"), "b")
	if n := e2.f.Calls("mounts"); n != 1 {
		t.Fatalf("%d mount checks for two creates, want 1", n)
	}
}

// TestListMetadataReadsAreBounded: a directory whose listed secrets are gone by the
// time their metadata is read (a hostile server, or a cleanup at Vault) must not make
// one page read metadata without end: the page comes back short, with a token.
func TestListMetadataReadsAreBounded(t *testing.T) {
	t.Parallel()
	var reads atomic.Int64
	keys := make([]string, 5000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%05d", i)
	}
	listing, _ := json.Marshal(map[string]any{"data": map[string]any{"keys": keys}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/auth/token/lookup-self":
			_, _ = io.WriteString(w, `{"data":{"ttl":0,"renewable":false,"policies":["root"]}}`)
		case r.URL.Path == "/v1/sys/internal/ui/mounts/secret":
			_, _ = io.WriteString(w, `{"data":{"type":"kv","options":{"version":"2"},"path":"secret/"}}`)
		case r.Method == "LIST" || r.URL.Query().Get("list") == "true":
			_, _ = w.Write(listing)
		default:
			reads.Add(1)
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"errors":[]}`)
		}
	}))
	t.Cleanup(srv.Close)
	p, err := vaultkv.New(vaultkv.Config{DeploymentID: "dep-test", Fingerprint: fingerprint}, newSession(t, srv.URL, "hvs.t"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := p.ListUnder(context.Background(), []string{"secret/apps/"}, nil, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if n := reads.Load(); n > vaultkv.MaxMetadataReadsPerPage || len(page.Secrets) != 0 || page.NextToken == "" {
		t.Fatalf("one page: %d metadata reads, %d secrets, token %q", n, len(page.Secrets), page.NextToken)
	}
}

// TestListSkipsOtherManagedRoots: under an approved prefix that holds another vault's
// managed root (an approval of "secret/paperclip/", or the instance's "*"), the walk
// skips the roots the ledger names as excluded: it reads none of their metadata, and
// no page's NextToken (which the company's operator holds) names a path under them:
// the other company's id and secret keys.
func TestListSkipsOtherManagedRoots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *vaultkv.Config) { c.DeploymentID = "vault-a" })
	other := e.cfg
	other.DeploymentID = "vault-b"
	b, err := vaultkv.New(other, e.s)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRef("x")
	ref.CompanyID, ref.Key = "co-b", "db-password"
	mustPut(t, b, ref, "b-value")
	e.f.Write("", "secret", "paperclip/x-external", map[string]any{"value": "x"})
	exclude := []string{vaultkv.RefName("", "secret", vaultkv.ManagedRoot("paperclip", "vault-b"))}
	var got []string
	token := ""
	for range 10 {
		page, err := e.p.ListUnder(context.Background(), []string{"secret/paperclip/"}, exclude, "", token, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Secrets {
			got = append(got, s.Ref)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(page.NextToken)
		if strings.Contains(string(raw), "vault-b") {
			t.Fatalf("a NextToken names the other vault's managed path: %s", raw)
		}
		if token = page.NextToken; token == "" {
			break
		}
	}
	if strings.Join(got, ",") != "paperclip/x-external" {
		t.Fatalf("listed %v", got)
	}
}

// TestListCursorNamesNoUnapprovedPath: a prefix without a trailing "/" is walked from
// its parent directory, whose other keys are not approved: a page's NextToken must not
// name one of them (here a page that runs out of LIST calls in a deep tree).
func TestListCursorNamesNoUnapprovedPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.f.Write("", "secret", "apps/aaa-private", map[string]any{"value": "x"})
	deep := "apps/billing"
	for i := range vaultkv.MaxListCallsPerPage + 5 {
		deep += fmt.Sprintf("/d%d", i%10)
	}
	e.f.Write("", "secret", deep+"/s", map[string]any{"value": "x"})
	page, err := e.p.ListUnder(context.Background(), []string{"secret/apps/billing"}, nil, "", "", 10)
	raw, _ := base64.RawURLEncoding.DecodeString(page.NextToken)
	if strings.Contains(string(raw), "aaa-private") {
		t.Fatalf("the NextToken names a path outside the approved prefix: %s", raw)
	}
	if err == nil && page.NextToken == "" {
		t.Fatalf("a page out of LIST calls came back complete: %+v", page)
	}
}
