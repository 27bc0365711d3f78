package vaultkv_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("mapped")
	s := mustPut(t, e.p, r, "mapped-value")
	secrets := []string{"mapped-value", e.f.URL(), strings.TrimPrefix(e.f.URL(), "http://"), e.f.RootToken(),
		managedPath(r), "permission denied"}

	// A token whose policy allows nothing: access_denied, and nothing of the request
	// in the error; the raw error goes to the log.
	weak := e.f.AddToken(vaultfake.Policy{"secret/data/elsewhere/*": {"read"}}, time.Hour, false)
	denied := e.providerOn(t, newSession(t, e.f.URL(), weak))
	_, err := denied.Resolve(ctx, r, s.ProviderVersionRef)
	wantCode(t, err, ledgererr.Forbidden, vaultkv.CodeAccessDenied, append(secrets, weak)...)
	_, err = denied.Put(ctx, newRef("denied"), val("denied-value"))
	wantCode(t, err, ledgererr.Forbidden, vaultkv.CodeAccessDenied, append(secrets, weak, "denied-value")...)
	if !strings.Contains(e.logs.String(), "access_denied") || strings.Contains(e.logs.String(), "mapped-value") {
		t.Fatalf("log: %s", e.logs.String())
	}

	// A revoked token is denied too.
	revoked := e.f.AddToken(vaultfake.Policy{"secret/*": {"read", "list"}}, time.Hour, false)
	e.f.RevokeToken(revoked)
	_, err = e.providerOn(t, newSession(t, e.f.URL(), revoked)).Resolve(ctx, r, s.ProviderVersionRef)
	wantCode(t, err, ledgererr.Forbidden, vaultkv.CodeAccessDenied, append(secrets, revoked)...)

	// A sealed Vault is transient.
	cold := e.newProvider(t)
	e.f.Sealed(true)
	_, err = cold.Resolve(ctx, r, s.ProviderVersionRef)
	wantCode(t, err, ledgererr.Unavailable, vaultkv.CodeProviderUnavailable, secrets...)
	e.f.Sealed(false)
	mustResolve(t, cold, r, s.ProviderVersionRef, "mapped-value")

	// Vault answering 503 (a standby without forwarding), 5xx or 429, whatever the
	// client retries: each op fails more often than the client retries it, and is not
	// used again afterwards.
	cold = e.newProvider(t)
	e.f.FailNext("data.read", 503, 10)
	_, err = cold.Resolve(ctx, r, s.ProviderVersionRef)
	wantCode(t, err, ledgererr.Unavailable, vaultkv.CodeProviderUnavailable, secrets...)

	e.f.FailNext("data.write", 429, 10)
	_, err = e.p.Put(ctx, next(r, 2, s), val("throttled-value"))
	wantCode(t, err, ledgererr.TooManyRequests, vaultkv.CodeThrottled, append(secrets, "throttled-value")...)

	e.f.FailNext("metadata.list", 500, 10)
	_, err = e.p.List(ctx, "", "", 10)
	wantCode(t, err, ledgererr.Unavailable, vaultkv.CodeProviderUnavailable, secrets...)

}

func TestUnreachableVaultIsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	_ = l.Close() // nothing listens there any more
	p := e.providerOn(t, newSession(t, addr, e.f.RootToken()))
	_, err = p.Resolve(context.Background(), newRef("gone"), "1")
	wantCode(t, err, ledgererr.Unavailable, vaultkv.CodeProviderUnavailable, addr, l.Addr().String(), e.f.RootToken())
}
