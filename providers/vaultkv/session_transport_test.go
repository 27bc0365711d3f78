package vaultkv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestSessionTLS(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t).NewTLS(t)
	if !strings.HasPrefix(f.URL(), "https://") {
		t.Fatalf("the TLS fake's URL is %s", f.URL())
	}
	ca := writeFile(t, t.TempDir(), "ca.pem", string(f.CACertPEM()))
	s := newSession(t, SessionConfig{Address: f.URL(), CACertFile: ca, Auth: Auth{Method: AuthToken, Token: f.RootToken()}})
	if err := readKV(mustClient(t, s)); err != nil {
		t.Fatalf("read over TLS with the CA: %v", err)
	}
	// Without the CA the system roots do not trust the fake.
	s2 := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthToken, Token: f.RootToken()}})
	_, err := s2.client(context.Background())
	if err == nil {
		t.Fatal("the fake's certificate was trusted without its CA")
	}
	msg := ledgererr.MessageOf(err)
	if !strings.Contains(msg, EnvCACert) || !strings.Contains(msg, "not signed by a trusted CA") {
		t.Fatalf("message %q does not point at the CA setting", msg)
	}
	if strings.Contains(err.Error(), f.RootToken()) || strings.Contains(err.Error(), f.URL()) {
		t.Fatalf("error %q holds the token or the address", err)
	}
}

// TestSessionIgnoresVaultEnvironment sets what the client library reads by itself and
// proves the session uses none of it. Not parallel: it sets the process environment.
func TestSessionIgnoresVaultEnvironment(t *testing.T) {
	f := vaultfake.New(t).NewTLS(t)
	other := vaultfake.New(t)
	t.Setenv("VAULT_TOKEN", f.RootToken())
	t.Setenv("VAULT_NAMESPACE", "evil")
	t.Setenv("VAULT_HEADERS", `{"X-Evil":"1"}`)
	t.Setenv("VAULT_ADDR", other.URL())
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_CACERT", writeFile(t, t.TempDir(), "ca.pem", string(f.CACertPEM())))

	f.AddAppRole("role-1", "secret-1", kvPolicy, time.Hour)
	dir := t.TempDir()
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthAppRole,
		RoleIDFile: writeFile(t, dir, "role", "role-1"), SecretIDFile: writeFile(t, dir, "secret", "secret-1")}})
	if s.anon.Token() != "" || s.anon.Namespace() != "" || s.anon.Headers().Get("X-Evil") != "" {
		t.Fatal("the session's client took the token, namespace or headers of the environment")
	}
	// TLS is still verified (VAULT_SKIP_VERIFY and VAULT_CACERT are ignored).
	_, err := s.client(context.Background())
	if err == nil || !strings.Contains(ledgererr.MessageOf(err), EnvCACert) {
		t.Fatalf("login without the CA setting: %v, want a TLS error", err)
	}
	ca := writeFile(t, dir, "ca.pem", string(f.CACertPEM()))
	s = newSession(t, SessionConfig{Address: f.URL(), CACertFile: ca, Auth: Auth{Method: AuthAppRole,
		RoleIDFile: writeFile(t, dir, "role", "role-1"), SecretIDFile: writeFile(t, dir, "secret", "secret-1")}})
	c := mustClient(t, s)
	if c.Token() == f.RootToken() || c.Namespace() != "" || c.Headers().Get("X-Evil") != "" {
		t.Fatal("the logged-in client took the environment's token, namespace or headers")
	}
	if err := readKV(c); err != nil {
		t.Fatalf("read: %v", err)
	}
	if ns := f.LastNamespace("login.approle"); ns != "" {
		t.Fatalf("the login went to namespace %q", ns)
	}
	if other.TotalCalls() != 0 {
		t.Fatal("a request went to VAULT_ADDR")
	}
	// A token login with a bad token is refused even though VAULT_TOKEN is the root's.
	s3 := newSession(t, SessionConfig{Address: f.URL(), CACertFile: ca, Auth: Auth{Method: AuthToken, Token: "hvs.not-a-token"}})
	if _, err := s3.client(context.Background()); ledgererr.CodeOf(err) != ledgererr.Forbidden {
		t.Fatalf("login with a bad token: %v, want forbidden", err)
	}
}

func TestSessionSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	log, buf := newLog()
	dir := t.TempDir()
	f.AddAppRole("role-1", "right-secret-id", kvPolicy, time.Hour)
	wrong := "wrong-secret-id-41b2"
	s := newSession(t, SessionConfig{Address: f.URL(), Log: log, Auth: Auth{Method: AuthAppRole,
		RoleIDFile: writeFile(t, dir, "role", "role-1"), SecretIDFile: writeFile(t, dir, "secret", wrong)}})
	_, err := s.client(context.Background())
	if ledgererr.CodeOf(err) != ledgererr.Forbidden || providers.ProviderCodeOf(err) != "access_denied" {
		t.Fatalf("login with a wrong secret id: %v, want forbidden access_denied", err)
	}
	if !strings.Contains(ledgererr.MessageOf(err), EnvSecretIDFile) {
		t.Fatalf("message %q does not name the secret id setting", ledgererr.MessageOf(err))
	}
	// A revoked static token.
	tok := f.AddToken(kvPolicy, time.Hour, true)
	f.RevokeToken(tok)
	s2 := newSession(t, SessionConfig{Address: f.URL(), Log: log, Auth: Auth{Method: AuthToken, Token: tok}})
	_, err2 := s2.client(context.Background())
	if ledgererr.CodeOf(err2) != ledgererr.Forbidden || !strings.Contains(ledgererr.MessageOf(err2), EnvVaultToken) {
		t.Fatalf("login with a revoked token: %v", err2)
	}
	// A server error (a session of its own: s answers its failed login for a moment).
	f.FailNext("login.approle", http.StatusInternalServerError, 5)
	s3 := newSession(t, SessionConfig{Address: f.URL(), Log: log, Auth: Auth{Method: AuthAppRole,
		RoleIDFile: writeFile(t, dir, "role3", "role-1"), SecretIDFile: writeFile(t, dir, "secret3", wrong)}})
	_, err3 := s3.client(context.Background())
	if ledgererr.CodeOf(err3) != ledgererr.Unavailable {
		t.Fatalf("login on a failing server: %v, want unavailable", err3)
	}
	for _, e := range []error{err, err2, err3} {
		for _, secret := range []string{wrong, tok, f.URL()} {
			if strings.Contains(e.Error(), secret) {
				t.Fatalf("error %q holds a secret or the address", e)
			}
		}
	}
	for _, secret := range []string{wrong, tok, "right-secret-id"} {
		if strings.Contains(buf.String(), secret) {
			t.Fatal("a credential reached the log")
		}
	}
	if !strings.Contains(buf.String(), "vault session call failed") {
		t.Fatal("the raw errors were not logged")
	}
}

func TestSessionRefusesRedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var leaked []string
	thief := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("X-Vault-Token"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	redirector := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thief+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	s := newSession(t, SessionConfig{Address: redirector, Auth: Auth{Method: AuthToken, Token: "hvs.redirected-token"}})
	_, err := s.client(context.Background())
	if err == nil {
		t.Fatal("a redirect to another host was followed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Fatal("the token was sent to another host")
	}
	if !strings.Contains(ledgererr.MessageOf(err), "redirected") {
		t.Fatalf("message %q does not say the server redirected", ledgererr.MessageOf(err))
	}
}

func TestSessionClose(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s, _ := appRoleSession(t, f, 2*time.Second, nil)
	mustClient(t, s)
	s.Close()
	s.Close()
	if _, err := s.client(context.Background()); ledgererr.CodeOf(err) != ledgererr.Unavailable {
		t.Fatalf("client after Close: %v, want unavailable", err)
	}
}

// newHTTPServer starts h on a loopback port for the test and returns its origin.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSessionRefusalOnAnyCallLogsInAgain: a 403 answered to a call made with the
// session's client (a provider's) is enough; the provider need not report it.
