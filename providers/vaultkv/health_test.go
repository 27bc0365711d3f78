package vaultkv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

// managedPolicy is what the provider needs under the managed root of deployment "dep".
var managedPolicy = vaultfake.Policy{
	"secret/data/paperclip/dep/*":     {"create", "read", "update"},
	"secret/metadata/paperclip/dep/*": {"read", "update", "delete", "list"},
	"secret/delete/paperclip/dep/*":   {"update"},
	"secret/undelete/paperclip/dep/*": {"update"},
	"secret/destroy/paperclip/dep/*":  {"update"},
	"sys/internal/ui/mounts/*":        {"read"},
	"sys/capabilities-self":           {"update"},
}

func newHealthProvider(t *testing.T, f *vaultfake.Fake, auth Auth, cfg Config) *Provider {
	t.Helper()
	s := newSession(t, SessionConfig{Address: f.URL(), Auth: auth})
	if cfg.DeploymentID == "" {
		cfg.DeploymentID = "dep"
	}
	cfg.Fingerprint = func(string, providers.Value) string { return "fp" }
	p, err := New(cfg, s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func tokenAuth(tok string) Auth { return Auth{Method: AuthToken, Token: tok} }

// assertSafe checks that no finding names the address or the token.
func assertSafe(t *testing.T, h providers.Health, f *vaultfake.Fake, tok string) {
	t.Helper()
	for _, finding := range h.Findings {
		if strings.Contains(finding, f.URL()) || strings.Contains(finding, strings.TrimPrefix(f.URL(), "http://")) ||
			(tok != "" && strings.Contains(finding, tok)) {
			t.Fatalf("finding %q names the address or the token", finding)
		}
	}
	for _, d := range h.Details {
		if tok != "" && strings.Contains(d, tok) {
			t.Fatalf("detail %q holds the token", d)
		}
	}
}

func findingWith(h providers.Health, s string) bool {
	for _, f := range h.Findings {
		if strings.Contains(f, s) {
			return true
		}
	}
	return false
}

func TestHealthOK(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	tok := f.AddToken(managedPolicy, time.Hour, true)
	p := newHealthProvider(t, f, tokenAuth(tok), Config{})
	h := p.Health(context.Background())
	if !h.OK || len(h.Findings) != 0 || h.Provider != providers.HashiCorpVault {
		t.Fatalf("health = %+v, want OK", h)
	}
	all := strings.Join(h.Details, "\n")
	for _, want := range []string{"address " + f.URL(), "auth method token", "mount secret", "managed root paperclip/dep/", "renewable", "active node"} {
		if !strings.Contains(all, want) {
			t.Errorf("details %q do not say %q", all, want)
		}
	}
	assertSafe(t, h, f, tok)
	d := p.HealthDetails(context.Background())
	if m := d.VaultMap(false); m["mountPath"] != "secret" || m["deploymentId"] != "dep" || m["secretPathPrefix"] != nil {
		t.Fatalf("VaultMap(false) = %v", m)
	}
	if m := d.VaultMap(true); m["secretPathPrefix"] != "paperclip" {
		t.Fatalf("VaultMap(true) = %v", m)
	}
	if s := d.VaultSummary(false); strings.Contains(s, f.URL()) || !strings.Contains(s, "mount secret") {
		t.Fatalf("VaultSummary = %q", s)
	}
}

func TestHealthServerStates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		set     func(*vaultfake.Fake)
		ok      bool
		finding string
	}{
		{"sealed", func(f *vaultfake.Fake) { f.Sealed(true) }, false, "the Vault server is sealed"},
		{"uninitialised", func(f *vaultfake.Fake) { f.Uninitialized(true) }, false, "not initialised"},
		{"standby", func(f *vaultfake.Fake) { f.Standby(true); f.StandbyForwards(true) }, true, ""},
		{"standby without forwarding", func(f *vaultfake.Fake) { f.Standby(true) }, false, "a standby that does not forward requests"},
		{"performance standby", func(f *vaultfake.Fake) { f.PerformanceStandby(true) }, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := vaultfake.New(t)
			p := newHealthProvider(t, f, tokenAuth(f.RootToken()), Config{})
			tc.set(f)
			h := p.Health(context.Background())
			if h.OK != tc.ok || (tc.finding != "" && !findingWith(h, tc.finding)) {
				t.Fatalf("health = %+v, want OK %t with %q", h, tc.ok, tc.finding)
			}
			assertSafe(t, h, f, f.RootToken())
		})
	}
}

func TestHealthRevokedToken(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	tok := f.AddToken(managedPolicy, time.Hour, true)
	p := newHealthProvider(t, f, tokenAuth(tok), Config{})
	if h := p.Health(context.Background()); !h.OK {
		t.Fatalf("health before the revocation: %+v", h)
	}
	f.RevokeToken(tok)
	h := p.Health(context.Background())
	if h.OK || !findingWith(h, "token auth method") {
		t.Fatalf("health with a revoked token = %+v, want a finding naming the auth method", h)
	}
	assertSafe(t, h, f, tok)
	// The next health check logs in again (the static token is still revoked).
	h = p.Health(context.Background())
	if h.OK || !findingWith(h, "login with the token auth method failed") || !findingWith(h, EnvVaultToken) {
		t.Fatalf("second health = %+v", h)
	}
}

func TestHealthAppRoleLoginRefused(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	dir := t.TempDir()
	p := newHealthProvider(t, f, Auth{Method: AuthAppRole, RoleIDFile: writeFile(t, dir, "r", "nobody"),
		SecretIDFile: writeFile(t, dir, "s", "bad-secret-id")}, Config{})
	h := p.Health(context.Background())
	if h.OK || !findingWith(h, "approle auth method") {
		t.Fatalf("health = %+v, want a refused approle login", h)
	}
	if findingWith(h, "bad-secret-id") {
		t.Fatal("a finding holds the secret id")
	}
}

func TestHealthMounts(t *testing.T) {
	t.Parallel()
	t.Run("kv v1", func(t *testing.T) {
		t.Parallel()
		f := vaultfake.New(t)
		f.Mount("", "legacy", 1)
		p := newHealthProvider(t, f, tokenAuth(f.RootToken()), Config{Mount: "legacy"})
		h := p.Health(context.Background())
		want := "mount legacy is a KV version 1 engine; the vault provider needs version 2 (vault kv enable-versioning legacy)"
		if h.OK || !findingWith(h, want) {
			t.Fatalf("health = %+v, want %q", h, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		f := vaultfake.New(t)
		p := newHealthProvider(t, f, tokenAuth(f.RootToken()), Config{Mount: "nowhere"})
		h := p.Health(context.Background())
		if h.OK || !findingWith(h, "mount nowhere was not found") {
			t.Fatalf("health = %+v, want a missing mount", h)
		}
		assertSafe(t, h, f, f.RootToken())
	})
	t.Run("namespace", func(t *testing.T) {
		t.Parallel()
		f := vaultfake.New(t)
		f.AddNamespace("team")
		f.Mount("team", "kv", 2)
		p := newHealthProvider(t, f, tokenAuth(f.RootToken()), Config{Namespace: "team", Mount: "kv"})
		if h := p.Health(context.Background()); !h.OK {
			t.Fatalf("health in a namespace = %+v", h)
		}
		if ns := f.LastNamespace("mounts"); ns != "team" {
			t.Fatalf("the mount check went to namespace %q", ns)
		}
	})
}

func TestHealthCapabilities(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	policy := vaultfake.Policy{
		"secret/data/paperclip/dep/*":     {"read"},
		"secret/metadata/paperclip/dep/*": {"read", "update", "delete", "list"},
		"secret/delete/paperclip/dep/*":   {"update"},
		"secret/undelete/paperclip/dep/*": {"update"},
		"sys/internal/ui/mounts/*":        {"read"},
		"sys/capabilities-self":           {"update"},
	}
	tok := f.AddToken(policy, time.Hour, true)
	p := newHealthProvider(t, f, tokenAuth(tok), Config{})
	h := p.Health(context.Background())
	for _, want := range []string{"secret/data/paperclip/dep/*: create, update", "secret/destroy/paperclip/dep/*: update"} {
		if h.OK || !findingWith(h, want) {
			t.Fatalf("health = %+v, want a finding with %q", h, want)
		}
	}
	if findingWith(h, "secret/metadata/") || findingWith(h, "secret/delete/") {
		t.Fatalf("health names capabilities the token has: %+v", h)
	}
	assertSafe(t, h, f, tok)
}

func TestHealthUnreachable(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t).NewTLS(t)
	p := newHealthProvider(t, f, tokenAuth(f.RootToken()), Config{})
	h := p.Health(context.Background())
	if h.OK || !findingWith(h, EnvCACert) {
		t.Fatalf("health without the CA = %+v, want a finding naming %s", h, EnvCACert)
	}
	assertSafe(t, h, f, f.RootToken())
}

func TestMissingCapabilities(t *testing.T) {
	t.Parallel()
	need := []string{"create", "read", "update"}
	cases := []struct {
		have []string
		want string
	}{
		{[]string{"root"}, ""},
		{[]string{"deny", "read"}, "create read update"},
		{[]string{"read", "update", "create", "sudo"}, ""},
		{[]string{"update"}, "create read"},
		{nil, "create read update"},
	}
	for _, tc := range cases {
		if got := strings.Join(missingCapabilities(tc.have, need), " "); got != tc.want {
			t.Errorf("missingCapabilities(%v) = %q, want %q", tc.have, got, tc.want)
		}
	}
}
