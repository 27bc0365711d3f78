package vaultkv_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/providertest"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

// env is a provider over a fresh fake, with the root token.
type env struct {
	f    *vaultfake.Fake
	cfg  vaultkv.Config
	s    *vaultkv.Session
	p    *vaultkv.Provider
	logs *providertest.LogBuffer
}

func newEnv(t *testing.T, edit func(*vaultkv.Config)) *env {
	t.Helper()
	f := vaultfake.New(t)
	logs := &providertest.LogBuffer{}
	cfg := vaultkv.Config{DeploymentID: "dep-test", Environment: "test", CacheTTL: time.Minute,
		Log: slog.New(slog.NewTextHandler(logs, nil)), Fingerprint: fingerprint}
	if edit != nil {
		edit(&cfg)
	}
	e := &env{f: f, cfg: cfg, logs: logs}
	e.s = newSession(t, f.URL(), f.RootToken())
	e.p = e.newProvider(t)
	return e
}

func newSession(t *testing.T, addr, token string) *vaultkv.Session {
	t.Helper()
	s, err := vaultkv.NewSession(vaultkv.SessionConfig{Address: addr,
		Auth: vaultkv.Auth{Method: vaultkv.AuthToken, Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newProvider is another provider on the same session and configuration (another
// ledger process, or a cold cache).
func (e *env) newProvider(t *testing.T) *vaultkv.Provider { return e.providerOn(t, e.s) }

func (e *env) providerOn(t *testing.T, s *vaultkv.Session) *vaultkv.Provider {
	t.Helper()
	p, err := vaultkv.New(e.cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// raw is a client of the fake with the root token, for what a test reads or writes
// at Vault beside the provider.
func (e *env) raw(t *testing.T) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: e.f.URL()})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(e.f.RootToken())
	return c
}

func (e *env) metadata(t *testing.T, path string) map[string]any {
	t.Helper()
	s, err := e.raw(t).Logical().Read("secret/metadata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return nil
	}
	return s.Data
}

// managedPath is the path of r's managed secret in the mount.
func managedPath(r providers.Ref) string { return "paperclip/dep-test/" + r.CompanyID + "/" + r.Key }

var refSeq atomic.Int64

func newRef(key string) providers.Ref {
	return providers.Ref{CompanyID: "co-1", SecretID: fmt.Sprintf("01HSECRET%017d", refSeq.Add(1)),
		Version: 1, Key: fmt.Sprintf("%s-%d", key, refSeq.Add(1))}
}

// next is version v of r's secret following the stored version prev.
func next(r providers.Ref, v int, prev providers.Stored) providers.Ref {
	r.Version, r.Previous = v, prev.ProviderVersionRef
	return r
}

func val(s string) providers.Value { return providers.NewValue([]byte(s)) }

func fingerprint(company string, v providers.Value) string {
	m := hmac.New(sha256.New, []byte("test-fingerprint-key/"+company))
	m.Write(v.Reveal())
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

func mustPut(t *testing.T, p *vaultkv.Provider, r providers.Ref, v string) providers.Stored {
	t.Helper()
	s, err := p.Put(context.Background(), r, val(v))
	if err != nil {
		t.Fatalf("Put v%d: %v", r.Version, err)
	}
	return s
}

func mustResolve(t *testing.T, p *vaultkv.Provider, r providers.Ref, vref, want string) {
	t.Helper()
	got, err := p.Resolve(context.Background(), r, vref)
	if err != nil {
		t.Fatalf("Resolve %q: %v", vref, err)
	}
	if string(got.Reveal()) != want {
		t.Fatalf("Resolve %q = %d bytes, want %q", vref, got.Len(), want)
	}
}

// wantCode checks err's ledger code and provider code, and that its text holds none of
// the secrets.
func wantCode(t *testing.T, err error, code ledgererr.Code, providerCode string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s/%s", code, providerCode)
	}
	if ledgererr.CodeOf(err) != code || providers.ProviderCodeOf(err) != providerCode {
		t.Fatalf("error %v: code %s/%s, want %s/%s", err, ledgererr.CodeOf(err), providers.ProviderCodeOf(err), code, providerCode)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(fmt.Sprintf("%v %+v", err, err), s) {
			t.Fatalf("error %v holds %q", err, s)
		}
	}
}
