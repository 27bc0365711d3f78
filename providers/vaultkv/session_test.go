package vaultkv

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/providertest"
	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

// kvPolicy allows everything under the default KV mount.
var kvPolicy = vaultfake.Policy{"secret/*": {"create", "read", "update", "delete", "list"}}

func newLog() (*slog.Logger, *providertest.LogBuffer) {
	buf := &providertest.LogBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newSession(t *testing.T, cfg SessionConfig) *Session {
	t.Helper()
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustClient(t *testing.T, s *Session) *api.Client {
	t.Helper()
	c, err := s.client(context.Background())
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// readKV reads a KV path with c: nil, or the client library's error (a 403 when the
// token was refused).
func readKV(c *api.Client) error {
	_, err := c.Logical().ReadWithContext(context.Background(), "secret/data/probe")
	return err
}

func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func appRoleSession(t *testing.T, f *vaultfake.Fake, ttl time.Duration, log *slog.Logger) (*Session, string) {
	t.Helper()
	dir := t.TempDir()
	secretID := "s.approle-secret-id-7f3a9"
	f.AddAppRole("role-1", secretID, kvPolicy, ttl)
	s := newSession(t, SessionConfig{Address: f.URL(), Log: log, Auth: Auth{Method: AuthAppRole,
		RoleIDFile: writeFile(t, dir, "role", "role-1\n"), SecretIDFile: writeFile(t, dir, "secret", secretID+"\n")}})
	return s, secretID
}

func TestSessionConfigValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", "s.token")
	notPEM := writeFile(t, dir, "ca.pem", "not a certificate")
	const secretToken = "hvs.TOPSECRET"
	cases := []struct {
		name string
		cfg  SessionConfig
		want []string // substrings of the error; none: valid
	}{
		{"token", SessionConfig{Address: "https://vault.example:8200", Auth: Auth{Method: "token", Token: secretToken}}, nil},
		{"loopback http", SessionConfig{Address: "http://127.0.0.1:8200/", Auth: Auth{Method: "token", TokenFile: tokenFile}}, nil},
		{"localhost http", SessionConfig{Address: "http://localhost:8200", Auth: Auth{Method: "token", Token: secretToken}}, nil},
		{"nothing", SessionConfig{}, []string{EnvAddr + " is required", EnvAuthMethod + " is required"}},
		{"remote http", SessionConfig{Address: "http://vault.example:8200", Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvAddr + " must use https (http is allowed only for a loopback host"}},
		{"path", SessionConfig{Address: "https://vault.example/v1/secret", Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvAddr + " must be an origin only"}},
		{"query", SessionConfig{Address: "https://vault.example?token=" + secretToken, Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvAddr + " must be an origin only"}},
		{"userinfo", SessionConfig{Address: "https://user:" + secretToken + "@vault.example", Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvAddr + " must not hold a user name or password"}},
		{"scheme", SessionConfig{Address: "ftp://vault.example", Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvAddr + " must start with https://"}},
		{"method", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "ldap"}},
			[]string{EnvAuthMethod + " must be token, approle or kubernetes"}},
		{"token both", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "token", Token: secretToken, TokenFile: tokenFile}},
			[]string{"set VAULT_TOKEN or VAULT_TOKEN_FILE, not both"}},
		{"token none", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "token"}},
			[]string{"needs VAULT_TOKEN or VAULT_TOKEN_FILE"}},
		{"token file missing", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "token", TokenFile: filepath.Join(dir, "nope")}},
			[]string{EnvVaultTokenFile + " names a file that does not exist"}},
		{"approle", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "approle"}},
			[]string{"needs " + EnvRoleIDFile, "needs " + EnvSecretIDFile}},
		{"approle dir", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "approle", RoleIDFile: dir, SecretIDFile: tokenFile}},
			[]string{EnvRoleIDFile + " must name a file, not a directory"}},
		{"kubernetes", SessionConfig{Address: "https://v.example", Auth: Auth{Method: "kubernetes", SATokenPath: filepath.Join(dir, "nope")}},
			[]string{"needs " + EnvK8sRole, EnvSATokenPath + " names a file that does not exist"}},
		{"namespace", SessionConfig{Address: "https://v.example", Namespace: "a//b", Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvNamespace + " must be segments"}},
		{"ca not pem", SessionConfig{Address: "https://v.example", CACertFile: notPEM, Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvCACert + " holds no PEM certificate"}},
		{"ca missing", SessionConfig{Address: "https://v.example", CACertFile: filepath.Join(dir, "nope"), Auth: Auth{Method: "token", Token: secretToken}},
			[]string{EnvCACert + " names a file the ledger cannot read"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted the configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secretToken) || strings.Contains(err.Error(), dir) {
				t.Errorf("error %q holds a value", err)
			}
		})
	}
}

func TestSessionMakesNoCallUntilUsed(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthToken, Token: f.RootToken()}})
	if n := f.TotalCalls(); n != 0 {
		t.Fatalf("NewSession made %d calls", n)
	}
	if err := readKV(mustClient(t, s)); err != nil {
		t.Fatalf("read with the root token: %v", err)
	}
	if f.Calls("lookup-self") != 1 {
		t.Fatalf("lookup-self calls = %d, want 1 (the token login)", f.Calls("lookup-self"))
	}
	mustClient(t, s)
	if f.Calls("lookup-self") != 1 {
		t.Fatal("a second call looked the token up again")
	}
}

func TestSessionTokenLogin(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	tok := f.AddToken(kvPolicy, time.Hour, true)
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthToken, Token: tok}})
	c := mustClient(t, s)
	if c.Token() != tok {
		t.Fatal("the client does not carry the configured token")
	}
	if err := readKV(c); err != nil {
		t.Fatalf("read: %v", err)
	}
	st := s.cur.Load()
	if !st.renewable || st.lease <= 50*time.Minute || st.lease > time.Hour {
		t.Fatalf("token state %s, want renewable with a ttl of about 1h", st)
	}
}

func TestSessionTokenFileRereadAfterRefusal(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	tok1 := f.AddToken(kvPolicy, time.Hour, true)
	tok2 := f.AddToken(kvPolicy, time.Hour, true)
	if len(tok1) != len(tok2) {
		t.Fatal("the fake's tokens differ in length")
	}
	path := writeFile(t, t.TempDir(), "token", tok1+"\n")
	log, buf := newLog()
	s := newSession(t, SessionConfig{Address: f.URL(), Log: log, Auth: Auth{Method: AuthToken, TokenFile: path}})
	c := mustClient(t, s)
	if c.Token() != tok1 {
		t.Fatal("the first token is not the file's")
	}
	// The operator puts a new token in the file without changing its size or time, and
	// revokes the old one: only Vault's refusal tells the session.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(path), "token", tok2+"\n")
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if mustClient(t, s).Token() != tok1 {
		t.Fatal("the session re-read an unchanged-looking file without a refusal")
	}
	f.RevokeToken(tok1)
	err = readKV(c)
	if statusOf(err) != http.StatusForbidden {
		t.Fatalf("read with a revoked token: %v, want 403", err)
	}
	s.invalidate(c.Token())
	if got := mustClient(t, s).Token(); got != tok2 {
		t.Fatal("after the refusal the session did not read the file again")
	}
	if err := readKV(mustClient(t, s)); err != nil {
		t.Fatalf("read with the new token: %v", err)
	}
	for _, secret := range []string{tok1, tok2} {
		if strings.Contains(buf.String(), secret) {
			t.Fatal("a token reached the log")
		}
	}
}

func TestSessionTokenFileChangePickedUp(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	tok1 := f.AddToken(kvPolicy, time.Hour, true)
	tok2 := f.AddToken(kvPolicy, time.Hour, true)
	path := writeFile(t, t.TempDir(), "token", tok1)
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthToken, TokenFile: path}})
	if mustClient(t, s).Token() != tok1 {
		t.Fatal("the first token is not the file's")
	}
	writeFile(t, filepath.Dir(path), "token", tok2+"\n") // another size
	if mustClient(t, s).Token() != tok2 {
		t.Fatal("a changed token file was not read again")
	}
}

func TestSessionAppRoleLoginSingleFlight(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s, _ := appRoleSession(t, f, time.Hour, nil)
	var wg sync.WaitGroup
	tokens := make([]string, 16)
	errs := make([]error, 16)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.client(context.Background())
			if err == nil {
				tokens[i] = c.Token()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range tokens {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] || tokens[i] == "" {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	if n := f.Calls("login.approle"); n != 1 {
		t.Fatalf("approle logins = %d, want 1", n)
	}
	if err := readKV(mustClient(t, s)); err != nil {
		t.Fatalf("read: %v", err)
	}
}

func TestSessionKubernetesLogin(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	dir := t.TempDir()
	jwt1, jwt2 := "eyJhbGciOi.first-service-account-jwt", "eyJhbGciOi.rotated-service-account-jwt"
	f.AddKubernetesRole("ledger", jwt1, kvPolicy, time.Hour)
	path := writeFile(t, dir, "sa", jwt1)
	log, buf := newLog()
	s := newSession(t, SessionConfig{Address: f.URL(), Log: log, Auth: Auth{Method: AuthKubernetes, K8sRole: "ledger", SATokenPath: path}})
	c := mustClient(t, s)
	if err := readKV(c); err != nil {
		t.Fatalf("read: %v", err)
	}
	// The kubelet rotates the token file; the next login reads it.
	writeFile(t, dir, "sa", jwt2)
	f.AddKubernetesRole("ledger", jwt2, kvPolicy, time.Hour) // the fake binds one JWT per role
	f.RevokeToken(c.Token())
	s.invalidate(c.Token())
	if err := readKV(mustClient(t, s)); err != nil {
		t.Fatalf("read after a second login: %v", err)
	}
	if n := f.Calls("login.kubernetes"); n != 2 {
		t.Fatalf("kubernetes logins = %d, want 2", n)
	}
	// A JWT Vault does not know is refused with a safe error.
	writeFile(t, dir, "sa", "eyJhbGciOi.unknown-jwt")
	f.RevokeToken(mustClient(t, s).Token())
	s.invalidate(mustClient(t, s).Token())
	_, err := s.client(context.Background())
	if ledgererr.CodeOf(err) != ledgererr.Forbidden || !strings.Contains(err.Error(), "kubernetes login") {
		t.Fatalf("login with an unknown jwt: %v, want a forbidden kubernetes login", err)
	}
	for _, secret := range []string{jwt1, jwt2, "unknown-jwt"} {
		if strings.Contains(err.Error(), secret) || strings.Contains(buf.String(), secret) {
			t.Fatal("a JWT reached an error or the log")
		}
	}
}
