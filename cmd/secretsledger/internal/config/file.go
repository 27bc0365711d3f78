package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// FileName is the instance's settings file, <instance>/config.json, written by
// `secretsledger configure`. Environment variables override it.
const FileName = "config.json"

// FileSetting is one setting of config.json and the environment variable it stands for.
type FileSetting struct {
	Section string // server, database or secrets
	Key     string // dotted path inside the section, e.g. localEncrypted.keyFilePath
	Env     string
	Flag    string // configure's flag
	Prompt  string // what configure asks
}

// FileSettings are the settings config.json may hold, by section. The secrets section
// follows the seeds' layout (secrets.localEncrypted.keyFilePath).
var FileSettings = []FileSetting{
	{"server", "httpAddr", "LEDGER_HTTP_ADDR", "http-addr", "HTTP address of the API (host:port)"},
	{"server", "tlsCertFile", "LEDGER_TLS_CERT_FILE", "tls-cert-file", "TLS certificate file (empty: plain HTTP)"},
	{"server", "tlsKeyFile", "LEDGER_TLS_KEY_FILE", "tls-key-file", "TLS key file"},
	{"server", "natsAddr", "LEDGER_NATS_ADDR", "nats-addr", "address of the embedded NATS server"},
	{"server", "logLevel", "LEDGER_LOG_LEVEL", "log-level", "log level (debug, info, warn, error)"},
	{"server", "idempotencyTtl", "LEDGER_IDEMPOTENCY_TTL", "idempotency-ttl", "how long idempotency keys are kept (e.g. 24h)"},
	{"database", "url", "DATABASE_URL", "database-url", "PostgreSQL URL (empty: the embedded database)"},
	{"database", "migrationUrl", "DATABASE_MIGRATION_URL", "migration-url", "owner's URL for migrations (empty: the database URL)"},
	{"database", "postgresBin", "LEDGER_POSTGRES_BIN", "postgres-bin", "directory of the PostgreSQL binaries (empty: searched)"},
	{"database", "postgresPort", "LEDGER_POSTGRES_PORT", "postgres-port", "port of the embedded PostgreSQL (empty: chosen)"},
	{"secrets", "provider", "PAPERCLIP_SECRETS_PROVIDER", "provider", "provider of new secrets (local_encrypted, aws_secrets_manager, vault)"},
	{"secrets", "strictMode", "PAPERCLIP_SECRETS_STRICT_MODE", "strict-mode", "strict mode: refuse plain values under sensitive env keys (true/false)"},
	{"secrets", "localEncrypted.keyFilePath", "PAPERCLIP_SECRETS_MASTER_KEY_FILE", "master-key-file", "master key file (empty: <instance>/secrets/master.key)"},
	{"secrets", "deleteRecoveryDays", "LEDGER_DELETE_RECOVERY_DAYS", "delete-recovery-days", "days a deleted secret can be restored"},
	{"secrets", "aws.region", "PAPERCLIP_SECRETS_AWS_REGION", "aws-region", "AWS region"},
	{"secrets", "aws.deploymentId", "PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID", "aws-deployment-id", "AWS deployment id"},
	{"secrets", "aws.kmsKeyId", "PAPERCLIP_SECRETS_AWS_KMS_KEY_ID", "aws-kms-key-id", "AWS KMS key id or ARN"},
	{"secrets", "aws.prefix", "PAPERCLIP_SECRETS_AWS_PREFIX", "aws-prefix", "AWS secret name prefix"},
	{"secrets", "aws.environment", "PAPERCLIP_SECRETS_AWS_ENVIRONMENT", "aws-environment", "AWS environment tag"},
	{"secrets", "aws.providerOwner", "PAPERCLIP_SECRETS_AWS_PROVIDER_OWNER", "aws-provider-owner", "AWS provider owner tag"},
	{"secrets", "aws.endpoint", "PAPERCLIP_SECRETS_AWS_ENDPOINT", "aws-endpoint", "AWS endpoint override (empty: the SDK's)"},
	{"secrets", "aws.deleteRecoveryDays", "PAPERCLIP_SECRETS_AWS_DELETE_RECOVERY_DAYS", "aws-delete-recovery-days", "AWS delete recovery window in days"},
	// Vault: no token here (VAULT_TOKEN is read from the environment only); the token
	// file, AppRole's and Kubernetes' credentials are files named by path.
	{"secrets", "vault.address", "PAPERCLIP_SECRETS_VAULT_ADDR", "vault-addr", "Vault address (https://host:8200; empty: no Vault)"},
	{"secrets", "vault.authMethod", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD", "vault-auth-method", "Vault auth method (token, approle, kubernetes)"},
	{"secrets", "vault.tokenFile", "VAULT_TOKEN_FILE", "vault-token-file", "Vault token file (token auth)"},
	{"secrets", "vault.approleRoleIdFile", "PAPERCLIP_SECRETS_VAULT_APPROLE_ROLE_ID_FILE", "vault-approle-role-id-file", "Vault AppRole role id file"},
	{"secrets", "vault.approleSecretIdFile", "PAPERCLIP_SECRETS_VAULT_APPROLE_SECRET_ID_FILE", "vault-approle-secret-id-file", "Vault AppRole secret id file"},
	{"secrets", "vault.k8sRole", "PAPERCLIP_SECRETS_VAULT_K8S_ROLE", "vault-k8s-role", "Vault Kubernetes auth role"},
	{"secrets", "vault.saTokenPath", "PAPERCLIP_SECRETS_VAULT_SA_TOKEN_PATH", "vault-sa-token-path", "Kubernetes service-account token file"},
	{"secrets", "vault.namespace", "PAPERCLIP_SECRETS_VAULT_NAMESPACE", "vault-namespace", "Vault namespace (empty: root)"},
	{"secrets", "vault.kvMount", "PAPERCLIP_SECRETS_VAULT_KV_MOUNT", "vault-kv-mount", "Vault KV v2 mount"},
	{"secrets", "vault.kvPathPrefix", "PAPERCLIP_SECRETS_VAULT_KV_PATH_PREFIX", "vault-kv-path-prefix", "Vault managed path prefix"},
	{"secrets", "vault.deploymentId", "PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID", "vault-deployment-id", "Vault deployment id (empty: the AWS one, else the instance id)"},
	{"secrets", "vault.versionRetention", "PAPERCLIP_SECRETS_VAULT_VERSION_RETENTION", "vault-version-retention", "KV versions kept per managed secret"},
	{"secrets", "vault.caCert", "PAPERCLIP_SECRETS_VAULT_CACERT", "vault-cacert", "PEM file of the CAs of the Vault server (empty: the system's)"},
}

// Sections are the sections of config.json, in the order configure asks them.
var Sections = []string{"server", "database", "secrets"}

// Where a setting's value came from.
const (
	OriginDefault = "default"
	OriginFile    = "file"
	OriginEnv     = "env"
)

// Layered is the process environment over the instance's config.json: getenv answers
// the environment's value when it is set, else the file's.
type Layered struct {
	env  func(string) string
	file map[string]string // by environment variable
	// Path is the config.json that was read (it may not exist).
	Path string
	// Problem says why the file could not be used, "" when it could (or is absent).
	Problem string
}

// FilePath is the config.json of the instance that getenv's LEDGER_HOME and
// LEDGER_INSTANCE name (they cannot come from the file itself).
func FilePath(getenv func(string) string) string {
	c := Config{Home: getenv("LEDGER_HOME"), Instance: getenv("LEDGER_INSTANCE")}
	if c.Home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			c.Home = filepath.Join(h, ".secretsledger")
		}
	}
	if c.Instance == "" {
		c.Instance = DefaultInstance
	}
	return filepath.Join(c.InstanceDir(), FileName)
}

// Layer reads the instance's config.json (absent: nothing) under getenv.
func Layer(getenv func(string) string) *Layered {
	l := &Layered{env: getenv, Path: FilePath(getenv)}
	vals, err := ReadFile(l.Path)
	if err != nil {
		l.Problem = err.Error()
	}
	l.file = vals
	return l
}

// Getenv is the layered lookup, for FromEnv.
func (l *Layered) Getenv(name string) string {
	if v := l.env(name); v != "" {
		return v
	}
	return l.file[name]
}

// Origin says where name's value comes from.
func (l *Layered) Origin(name string) string {
	switch {
	case l.env(name) != "":
		return OriginEnv
	case l.file[name] != "":
		return OriginFile
	}
	return OriginDefault
}

// Setting is one effective setting, for doctor and serve --help.
type Setting struct {
	Name, Value, Origin string
}

// Effective lists every documented variable with its value (secrets redacted) and
// origin. Unset variables show their documented default.
func (l *Layered) Effective() []Setting {
	out := make([]Setting, 0, len(Vars))
	for _, v := range Vars {
		val := l.Getenv(v.Name)
		origin := l.Origin(v.Name)
		if val == "" {
			val = v.Default
		}
		if origin != OriginDefault {
			val = Redact(v.Name, val)
		}
		out = append(out, Setting{Name: v.Name, Value: val, Origin: origin})
	}
	return out
}

// Redact keeps key material and passwords out of a setting's value as shown.
func Redact(name, val string) string {
	switch {
	case val == "":
		return val
	case name == "PAPERCLIP_SECRETS_MASTER_KEY" || name == "LEDGER_TOKEN" || name == "VAULT_TOKEN":
		return "(set)"
	// The Vault address is refused with user info, but shown before that is checked.
	case strings.HasSuffix(name, "_URL") || name == "PAPERCLIP_SECRETS_VAULT_ADDR":
		u, err := url.Parse(val)
		if err != nil {
			return "(set, unparsable)"
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return val
}

// ReadFile returns the settings of a config.json by environment variable; a missing
// file is no settings. Unknown keys and values that are not strings, numbers or
// booleans are errors, so that a typo does not silently fall back to a default.
func ReadFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	// No file, or no instance directory to hold one (an unusable home is reported by
	// whoever prepares the instance, with a better message).
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %v", path, err)
	}
	byPath := map[string]string{}
	for _, s := range FileSettings {
		byPath[s.Section+"."+s.Key] = s.Env
	}
	out := map[string]string{}
	var problems []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(strings.TrimPrefix(prefix+"."+k, "."), e)
			}
			return
		case nil:
			return
		}
		env, ok := byPath[prefix]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown setting %s", prefix))
			return
		}
		switch v := v.(type) {
		case string:
			out[env] = v
		case bool:
			out[env] = strconv.FormatBool(v)
		case json.Number:
			out[env] = v.String()
		default:
			problems = append(problems, fmt.Sprintf("%s must be a string, number or boolean", prefix))
		}
	}
	walk("", doc)
	if len(problems) > 0 {
		sort.Strings(problems)
		return out, fmt.Errorf("%s: %s", path, strings.Join(problems, "; "))
	}
	return out, nil
}

// WriteFile merges set into the config.json at path (an empty value removes the
// setting) and writes it 0600, atomically: it may hold a database URL with a password.
func WriteFile(path string, set map[string]string) error {
	vals, err := ReadFile(path)
	if err != nil {
		return err
	}
	for k, v := range set {
		if v == "" {
			delete(vals, k)
		} else {
			vals[k] = v
		}
	}
	doc := map[string]any{}
	for _, s := range FileSettings {
		v, ok := vals[s.Env]
		if !ok {
			continue
		}
		node := doc
		parts := strings.Split(s.Section+"."+s.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = fileValue(v)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// fileValue writes booleans and numbers as JSON booleans and numbers.
func fileValue(v string) any {
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return b
	}
	if n, err := strconv.Atoi(v); err == nil && strconv.Itoa(n) == v {
		return n
	}
	return v
}
