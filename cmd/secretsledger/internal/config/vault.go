package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

// DefaultVaultSATokenPath is where Kubernetes mounts a pod's service-account token.
const DefaultVaultSATokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Vault configures the deployment's session to a HashiCorp Vault or OpenBao server
// (PAPERCLIP_SECRETS_VAULT_*) and its default vault instance. With an address set the
// session is built whatever the default provider is: companies may then have vault
// vaults over it.
type Vault struct {
	// Addr is PAPERCLIP_SECRETS_VAULT_ADDR, the server's origin; empty: no session.
	Addr string
	// AuthMethod is token (default), approle or kubernetes.
	AuthMethod string
	// Namespace is the namespace of the auth method and of the deployment's KV calls.
	Namespace string
	// Mount is the KV v2 mount (default secret); PathPrefix the managed paths' first
	// segment(s) (default paperclip).
	Mount, PathPrefix string
	// CACert is a PEM file of the CAs that sign the server's certificate.
	CACert string
	// K8sRole and SATokenPath are Kubernetes auth's role and service-account token file.
	K8sRole, SATokenPath string
	// RoleIDFile and SecretIDFile are AppRole's credential files.
	RoleIDFile, SecretIDFile string
	// Token is VAULT_TOKEN (token method); TokenFile, VAULT_TOKEN_FILE, is preferred.
	Token     Secret
	TokenFile string
	// DeploymentID is the managed paths' segment under the prefix:
	// PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID, else PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID,
	// else the instance id.
	DeploymentID string
	// VersionRetention is max_versions of every managed secret (0: the provider's default).
	VersionRetention int
	// ExternalPrefixes is LEDGER_VAULT_EXTERNAL_PREFIXES: approved prefixes of vault
	// references ([ns/]mount/path) for every company; nil when unset.
	ExternalPrefixes []string
	// CacheTTL is LEDGER_VAULT_CACHE_TTL (default 1m; 0 disables).
	CacheTTL time.Duration
}

// Configured reports whether the deployment has a Vault session.
func (v Vault) Configured() bool { return v.Addr != "" }

// Secret is a setting that is a credential: it never prints.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[REDACTED]" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "[REDACTED]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// vaultFromEnv reads PAPERCLIP_SECRETS_VAULT_*, VAULT_TOKEN and VAULT_TOKEN_FILE. The
// address is required when vault is the default provider; with an address, so is each
// setting of the auth method.
func vaultFromEnv(getenv func(string) string, required bool, instance string, problems []string) (Vault, []string) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	v := Vault{
		Addr: strings.TrimSuffix(get("PAPERCLIP_SECRETS_VAULT_ADDR"), "/"), AuthMethod: get("PAPERCLIP_SECRETS_VAULT_AUTH_METHOD"),
		Namespace: strings.Trim(get("PAPERCLIP_SECRETS_VAULT_NAMESPACE"), "/"), Mount: strings.Trim(get("PAPERCLIP_SECRETS_VAULT_KV_MOUNT"), "/"),
		PathPrefix: strings.Trim(get("PAPERCLIP_SECRETS_VAULT_KV_PATH_PREFIX"), "/"), CACert: get("PAPERCLIP_SECRETS_VAULT_CACERT"),
		K8sRole: get("PAPERCLIP_SECRETS_VAULT_K8S_ROLE"), SATokenPath: get("PAPERCLIP_SECRETS_VAULT_SA_TOKEN_PATH"),
		RoleIDFile: get("PAPERCLIP_SECRETS_VAULT_APPROLE_ROLE_ID_FILE"), SecretIDFile: get("PAPERCLIP_SECRETS_VAULT_APPROLE_SECRET_ID_FILE"),
		Token: Secret(get("VAULT_TOKEN")), TokenFile: get("VAULT_TOKEN_FILE"),
		DeploymentID: firstSet(getenv, "PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID", "PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID"),
		CacheTTL:     vaultkv.DefaultCacheTTL,
	}
	if v.DeploymentID == "" {
		v.DeploymentID = instance
	}
	if v.Mount == "" {
		v.Mount = vaultkv.DefaultMount
	}
	if v.PathPrefix == "" {
		v.PathPrefix = vaultkv.DefaultPrefix
	}
	if v.AuthMethod == "" {
		v.AuthMethod = vaultkv.AuthToken
	}
	if v.SATokenPath == "" {
		v.SATokenPath = DefaultVaultSATokenPath
	}
	problems = v.readTunables(getenv, problems)
	problems = v.checkPaths(problems)
	switch {
	case v.Addr == "" && required:
		problems = append(problems, "PAPERCLIP_SECRETS_VAULT_ADDR is required when PAPERCLIP_SECRETS_PROVIDER=vault")
	case v.Addr == "":
		return v, problems // no session: nothing else is needed
	default:
		if why := commands.CheckVaultAddress(v.Addr); why != "" {
			// The rule's words only: an address with user info must not be echoed.
			problems = append(problems, "PAPERCLIP_SECRETS_VAULT_ADDR "+why)
		}
	}
	return v, v.checkAuth(problems)
}

// readTunables reads the retention, the cache lifetime and the approved prefixes.
func (v *Vault) readTunables(getenv func(string) string, problems []string) []string {
	if s := strings.TrimSpace(getenv("PAPERCLIP_SECRETS_VAULT_VERSION_RETENTION")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > vaultkv.MaxVersionRetention {
			problems = append(problems, fmt.Sprintf("PAPERCLIP_SECRETS_VAULT_VERSION_RETENTION must be 1 to %d, got %q", vaultkv.MaxVersionRetention, s))
		}
		v.VersionRetention = n
	}
	if s := getenv("LEDGER_VAULT_CACHE_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > 24*time.Hour {
			problems = append(problems, fmt.Sprintf("LEDGER_VAULT_CACHE_TTL must be a duration from 0 to 24h (e.g. 5m), got %q", s))
		}
		v.CacheTTL = d
	}
	if s := getenv("LEDGER_VAULT_EXTERNAL_PREFIXES"); strings.TrimSpace(s) != "" {
		var err error
		if v.ExternalPrefixes, err = commands.CheckInstancePrefixes(s); err != nil {
			problems = append(problems, "LEDGER_VAULT_EXTERNAL_PREFIXES: "+ledgererr.MessageOf(err))
		}
	}
	return problems
}

// checkPaths checks the parts of the managed paths as the provider will.
func (v Vault) checkPaths(problems []string) []string {
	for _, p := range []struct {
		name, value string
		max         int
	}{
		{"PAPERCLIP_SECRETS_VAULT_NAMESPACE", v.Namespace, vaultkv.MaxNamespaceLength},
		{"PAPERCLIP_SECRETS_VAULT_KV_MOUNT", v.Mount, vaultkv.MaxMountLength},
		{"PAPERCLIP_SECRETS_VAULT_KV_PATH_PREFIX", v.PathPrefix, vaultkv.MaxPrefixLength},
		{"PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID (or PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID)", v.DeploymentID, vaultkv.MaxDeploymentIDLength},
	} {
		if p.value == "" && p.name == "PAPERCLIP_SECRETS_VAULT_NAMESPACE" {
			continue
		}
		if why := vaultkv.CheckPath(p.value, p.max); why != "" {
			problems = append(problems, p.name+" "+why)
		}
	}
	return problems
}

// checkAuth names each missing setting of the auth method.
func (v Vault) checkAuth(problems []string) []string {
	missing := func(name, when string) {
		problems = append(problems, fmt.Sprintf("%s is required when %s", name, when))
	}
	switch v.AuthMethod {
	case vaultkv.AuthToken:
		if v.Token == "" && v.TokenFile == "" {
			missing("VAULT_TOKEN_FILE (or VAULT_TOKEN)", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD=token")
		}
	case vaultkv.AuthAppRole:
		if v.RoleIDFile == "" {
			missing("PAPERCLIP_SECRETS_VAULT_APPROLE_ROLE_ID_FILE", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD=approle")
		}
		if v.SecretIDFile == "" {
			missing("PAPERCLIP_SECRETS_VAULT_APPROLE_SECRET_ID_FILE", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD=approle")
		}
	case vaultkv.AuthKubernetes:
		if v.K8sRole == "" {
			missing("PAPERCLIP_SECRETS_VAULT_K8S_ROLE", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD=kubernetes")
		}
	default:
		problems = append(problems, fmt.Sprintf("PAPERCLIP_SECRETS_VAULT_AUTH_METHOD must be token, approle or kubernetes, got %q", v.AuthMethod))
	}
	return problems
}

// SessionConfig is the vault session's configuration.
func (v Vault) SessionConfig() vaultkv.SessionConfig {
	return vaultkv.SessionConfig{Address: v.Addr, Namespace: v.Namespace, CACertFile: v.CACert, Auth: vaultkv.Auth{
		Method: v.AuthMethod, Token: string(v.Token), TokenFile: v.TokenFile, RoleIDFile: v.RoleIDFile, SecretIDFile: v.SecretIDFile,
		K8sRole: v.K8sRole, SATokenPath: v.SATokenPath}}
}
