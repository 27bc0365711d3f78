package vaultkv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestSessionRenewsBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s, _ := appRoleSession(t, f, 3*time.Second, nil)
	c := mustClient(t, s)
	first := time.Now()
	waitFor(t, 10*time.Second, "a renewal", func() bool { return f.Calls("renew-self") >= 1 })
	// Past the first TTL, the token still works and no second login happened: it was
	// renewed before it expired.
	waitFor(t, 10*time.Second, "the first ttl to pass", func() bool { return time.Since(first) > 3500*time.Millisecond })
	if err := readKV(c); err != nil {
		t.Fatalf("read past the first ttl: %v", err)
	}
	if n := f.Calls("login.approle"); n != 1 {
		t.Fatalf("approle logins = %d, want 1 (renewed, not logged in again)", n)
	}
	if mustClient(t, s).Token() != c.Token() {
		t.Fatal("the renewed session changed its token")
	}
}

func TestSessionLogsInAgainAtMaxTTL(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s, _ := appRoleSession(t, f, 3*time.Second, nil)
	c := mustClient(t, s)
	// The fake renews up to 3× the first TTL; then the session must log in again
	// before the token expires: every call until then works.
	// The fake counts a login when it receives it, before the session holds its token:
	// wait for the session's token to change.
	deadline := time.Now().Add(20 * time.Second)
	for mustClient(t, s).Token() == c.Token() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a second login")
		}
		if err := readKV(mustClient(t, s)); err != nil {
			t.Fatalf("read while the session renews: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c2 := mustClient(t, s)
	if n := f.Calls("login.approle"); n < 2 {
		t.Fatalf("approle logins = %d, want a second one", n)
	}
	if err := readKV(c2); err != nil {
		t.Fatalf("read after the second login: %v", err)
	}
	if f.Calls("renew-self") < 2 {
		t.Fatalf("renewals before the max ttl = %d, want at least 2", f.Calls("renew-self"))
	}
}

func TestSessionRevokedTokenLogsInAgainOnce(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s, _ := appRoleSession(t, f, time.Hour, nil)
	c := mustClient(t, s)
	// A refusal by policy (the token is fine): the session checks the token and keeps it.
	s.invalidate(c.Token())
	if mustClient(t, s).Token() != c.Token() || f.Calls("login.approle") != 1 {
		t.Fatal("a policy's refusal replaced a valid token")
	}
	f.RevokeToken(c.Token())
	if statusOf(readKV(c)) != http.StatusForbidden {
		t.Fatal("the revoked token still works")
	}
	s.invalidate(c.Token())
	s.invalidate(c.Token())
	c2 := mustClient(t, s)
	if c2.Token() == c.Token() {
		t.Fatal("the session kept the revoked token")
	}
	if err := readKV(c2); err != nil {
		t.Fatalf("read after the new login: %v", err)
	}
	mustClient(t, s)
	if n := f.Calls("login.approle"); n != 2 {
		t.Fatalf("approle logins = %d, want 2", n)
	}
	// A stale invalidation (the old token) changes nothing.
	s.invalidate(c.Token())
	if mustClient(t, s).Token() != c2.Token() {
		t.Fatal("invalidating an old token dropped the current one")
	}
}

func TestNextMaintenance(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cases := []struct {
		name string
		st   *tokenState
		want time.Duration
		ok   bool
	}{
		{"no token", nil, 0, false},
		{"never expires (root)", &tokenState{obtained: now}, 0, false},
		{"two thirds", &tokenState{obtained: now, lease: 30 * time.Minute}, 20 * time.Minute, true},
		{"late: at once (floor)", &tokenState{obtained: now.Add(-25 * time.Minute), lease: 30 * time.Minute}, minMaintainWait, true},
		{"expired: the next call logs in", &tokenState{obtained: now.Add(-time.Hour), lease: 30 * time.Minute}, 0, false},
	}
	for _, tc := range cases {
		got, ok := nextMaintenance(tc.st, now)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: nextMaintenance = %s, %t; want %s, %t", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSessionRootTokenIsNotRenewed(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthToken, Token: f.RootToken()}})
	mustClient(t, s)
	if st := s.cur.Load(); st.lease != 0 || !st.expires().IsZero() {
		t.Fatalf("root token state %s, want one that never expires", st)
	}
	if _, ok := nextMaintenance(s.cur.Load(), time.Now()); ok {
		t.Fatal("a token that never expires is scheduled for renewal")
	}
}

func TestSessionRefusalOnAnyCallLogsInAgain(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	s, _ := appRoleSession(t, f, time.Hour, nil)
	c := mustClient(t, s)
	// Through a namespaced copy, as the provider calls.
	f.RevokeToken(c.Token())
	if statusOf(readKV(c.WithNamespace(""))) != http.StatusForbidden {
		t.Fatal("the revoked token still works")
	}
	c2 := mustClient(t, s)
	if c2.Token() == c.Token() || f.Calls("login.approle") != 2 {
		t.Fatal("a refused call did not make the session log in again")
	}
	// A refusal by policy costs one check of the token, not a login.
	lookups := f.Calls("lookup-self")
	if _, err := c2.Logical().ReadWithContext(context.Background(), "sys/policy/root"); statusOf(err) != http.StatusForbidden {
		t.Fatalf("read outside the policy: %v, want 403", err)
	}
	if mustClient(t, s).Token() != c2.Token() || f.Calls("login.approle") != 2 || f.Calls("lookup-self") != lookups+1 {
		t.Fatal("a policy's refusal did not cost exactly one token check")
	}
	mustClient(t, s)
	if f.Calls("lookup-self") != lookups+1 {
		t.Fatal("the token was checked again without a new refusal")
	}
}

// A login that fails (a wrong secret id) answers every caller for a moment without
// another login, so a wrong credential is not one login attempt per resolution; a
// caller after the back-off tries again.
func TestSessionFailedLoginBacksOff(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	f.AddAppRole("role-1", "the-right-secret-id", kvPolicy, time.Hour)
	dir := t.TempDir()
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: Auth{Method: AuthAppRole,
		RoleIDFile: writeFile(t, dir, "role", "role-1\n"), SecretIDFile: writeFile(t, dir, "secret", "a-wrong-secret-id\n")}})
	for range 10 {
		if _, err := s.client(context.Background()); err == nil {
			t.Fatal("a wrong secret id logged in")
		}
	}
	if n := f.Calls("login.approle"); n != 1 {
		t.Fatalf("%d logins for 10 calls right after a failed one, want 1", n)
	}
	waitFor(t, 10*time.Second, "a login after the back-off", func() bool {
		_, _ = s.client(context.Background())
		return f.Calls("login.approle") == 2
	})
}
