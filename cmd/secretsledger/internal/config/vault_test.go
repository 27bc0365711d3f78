package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With PAPERCLIP_SECRETS_PROVIDER=vault every missing setting is named (serve exits 2
// on Validate's error); the token never appears in an error.
func TestVaultMissingSettingsAreNamed(t *testing.T) {
	t.Parallel()
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_PROVIDER": "vault"}))
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "PAPERCLIP_SECRETS_VAULT_ADDR is required when PAPERCLIP_SECRETS_PROVIDER=vault") ||
		!strings.Contains(err.Error(), "VAULT_TOKEN_FILE (or VAULT_TOKEN) is required") {
		t.Fatalf("no address, no token: %v", err)
	}
	for method, want := range map[string][]string{
		"token":      {"VAULT_TOKEN_FILE (or VAULT_TOKEN)"},
		"approle":    {"PAPERCLIP_SECRETS_VAULT_APPROLE_ROLE_ID_FILE", "PAPERCLIP_SECRETS_VAULT_APPROLE_SECRET_ID_FILE"},
		"kubernetes": {"PAPERCLIP_SECRETS_VAULT_K8S_ROLE"},
		"userpass":   {"PAPERCLIP_SECRETS_VAULT_AUTH_METHOD must be token, approle or kubernetes"},
	} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_PROVIDER": "vault",
			"PAPERCLIP_SECRETS_VAULT_ADDR": "https://vault.example:8200", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD": method}))
		err := c.Validate()
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v does not name %s", method, err, w)
			}
		}
	}
	// An address alone (provider local_encrypted) still builds a session: its auth is checked.
	c = FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_VAULT_ADDR": "https://vault.example:8200"}))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN_FILE") {
		t.Fatalf("address without a token: %v", err)
	}
	for k, v := range map[string]string{"PAPERCLIP_SECRETS_VAULT_ADDR": "https://user:hunter2@vault.example", "PAPERCLIP_SECRETS_VAULT_KV_MOUNT": "a//b",
		"PAPERCLIP_SECRETS_VAULT_KV_PATH_PREFIX": "../x", "PAPERCLIP_SECRETS_VAULT_VERSION_RETENTION": "0", "LEDGER_VAULT_CACHE_TTL": "soon",
		"LEDGER_VAULT_EXTERNAL_PREFIXES": "secret/a/,*", "PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID": "a b"} {
		vars := map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_VAULT_ADDR": "https://vault.example", "VAULT_TOKEN": "hvs.tok", k: v}
		err := FromEnv(env(vars)).Validate()
		if err == nil || !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "hvs.tok") {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// Defaults and the deployment id's fallbacks: the vault setting, else AWS's, else the
// instance id.
func TestVaultSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{"LEDGER_HOME": "/h", "LEDGER_INSTANCE": "inst-1", "PAPERCLIP_SECRETS_PROVIDER": "vault",
		"PAPERCLIP_SECRETS_VAULT_ADDR": "http://127.0.0.1:8200/", "VAULT_TOKEN_FILE": "/run/vault/token"}
	c := FromEnv(env(base))
	v := c.Vault
	if err := c.Validate(); err != nil || !v.Configured() || v.Addr != "http://127.0.0.1:8200" || v.AuthMethod != "token" ||
		v.Mount != "secret" || v.PathPrefix != "paperclip" || v.DeploymentID != "inst-1" || v.CacheTTL != time.Minute ||
		v.VersionRetention != 0 || v.ExternalPrefixes != nil {
		t.Fatalf("defaults %+v: %v", v, err)
	}
	base["PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID"] = "aws-dep"
	if v := FromEnv(env(base)).Vault; v.DeploymentID != "aws-dep" {
		t.Fatalf("AWS deployment id not the fallback: %q", v.DeploymentID)
	}
	base["PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID"] = "vault-dep"
	base["PAPERCLIP_SECRETS_VAULT_KV_MOUNT"] = "/kv/"
	base["LEDGER_VAULT_EXTERNAL_PREFIXES"] = " secret/apps/ , team/kv/x"
	base["PAPERCLIP_SECRETS_VAULT_VERSION_RETENTION"] = "25"
	c = FromEnv(env(base))
	if err := c.Validate(); err != nil || c.Vault.DeploymentID != "vault-dep" || c.Vault.Mount != "kv" ||
		strings.Join(c.Vault.ExternalPrefixes, "|") != "secret/apps/|team/kv/x" || c.Vault.VersionRetention != 25 {
		t.Fatalf("set %+v: %v", c.Vault, err)
	}
	if s := c.Vault.SessionConfig(); s.Address != "http://127.0.0.1:8200" || s.Auth.TokenFile != "/run/vault/token" {
		t.Fatalf("session %+v", s)
	}
	// No address: no session, nothing required, and the deployment default stays.
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.Validate() != nil || c.Vault.Configured() || c.SecretsProvider != "local_encrypted" {
		t.Fatalf("default instance: %+v", c.Vault)
	}
}

// VAULT_TOKEN is never printed: not by %v of the configuration, not by a log line, not
// by the effective settings (doctor, serve --help), and config.json cannot hold it.
func TestVaultTokenNeverShown(t *testing.T) {
	t.Parallel()
	const token = "hvs.SECRET-token-value"
	home := t.TempDir()
	getenv := env(map[string]string{"LEDGER_HOME": home, "PAPERCLIP_SECRETS_VAULT_ADDR": "https://vault.example", "VAULT_TOKEN": token})
	c := FromEnv(getenv)
	if err := c.Validate(); err != nil || string(c.Vault.Token) != token {
		t.Fatalf("token not read: %v", err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "vault", c.Vault, "token", c.Vault.Token)
	for _, shown := range []string{fmt.Sprintf("%v %+v %#v %s", c, c.Vault, c.Vault, c.Vault.Token), b.String()} {
		if strings.Contains(shown, token) {
			t.Fatalf("the token is shown: %s", shown)
		}
	}
	l := Layer(getenv)
	for _, s := range l.Effective() {
		if strings.Contains(s.Value, token) {
			t.Fatalf("effective setting %s shows the token", s.Name)
		}
		if s.Name == "VAULT_TOKEN" && s.Value != "(set)" {
			t.Fatalf("VAULT_TOKEN shown as %q", s.Value)
		}
	}
	path := FilePath(getenv)
	if err := WriteFile(path, map[string]string{"VAULT_TOKEN": token, "PAPERCLIP_SECRETS_VAULT_ADDR": "https://vault.example"}); err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(path)
	if strings.Contains(string(written), token) || !strings.Contains(string(written), `"address": "https://vault.example"`) {
		t.Fatalf("config.json:\n%s", written)
	}
	bad := filepath.Join(home, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"secrets": {"vault": {"token": "`+token+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "unknown setting secrets.vault.token") {
		t.Fatalf("a token in config.json: %v", err)
	}
}

// TestVaultAddressRedacted: serve refuses an address with user info, but the settings
// as shown (configure, the effective settings) must not print its password either.
func TestVaultAddressRedacted(t *testing.T) {
	t.Parallel()
	got := Redact("PAPERCLIP_SECRETS_VAULT_ADDR", "https://ops:hunter2-vault@vault.example:8200")
	if strings.Contains(got, "hunter2-vault") {
		t.Fatalf("Redact shows the address's password: %q", got)
	}
	if got := Redact("PAPERCLIP_SECRETS_VAULT_ADDR", "https://vault.example:8200"); got != "https://vault.example:8200" {
		t.Fatalf("Redact changed a plain address: %q", got)
	}
}
