package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Defaults.
const (
	DefaultNATSAddr = "127.0.0.1:4233"
	DefaultHTTPAddr = "127.0.0.1:3180"
	DefaultInstance = "default"
)

// Config is every setting of a ledger process.
type Config struct {
	// Home is LEDGER_HOME (default ~/.secretsledger).
	Home string
	// Instance is LEDGER_INSTANCE (default "default").
	Instance string
	// DatabaseURL is DATABASE_URL; empty means the embedded PostgreSQL.
	DatabaseURL string
	// MigrationURL is DATABASE_MIGRATION_URL; empty means DatabaseURL.
	MigrationURL string
	// HTTPAddr is LEDGER_HTTP_ADDR.
	HTTPAddr string
	// TLSCertFile and TLSKeyFile are LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE: with
	// both, the API is served over HTTPS; with neither, over plain HTTP.
	TLSCertFile, TLSKeyFile string
	// PprofAddr is LEDGER_PPROF_ADDR: a loopback address for Go's pprof handlers; empty: off.
	PprofAddr string
	// MetricsAddr is LEDGER_METRICS_ADDR: the address of a listener of its own for the
	// Prometheus /metrics endpoint; empty: /metrics is served on the API's listener.
	MetricsAddr string
	// PostgresBin is LEDGER_POSTGRES_BIN: where the embedded mode finds postgres and initdb.
	PostgresBin string
	// PostgresPort is LEDGER_POSTGRES_PORT: the embedded server's port; 0 picks one.
	PostgresPort int
	// LogLevel is LEDGER_LOG_LEVEL: debug, info (default), warn or error.
	LogLevel slog.Level
	// SecretsProvider is PAPERCLIP_SECRETS_PROVIDER: the default provider of new secrets.
	SecretsProvider string
	// DeleteRecovery is LEDGER_DELETE_RECOVERY_DAYS (default 30) as a duration.
	DeleteRecovery time.Duration
	// NATSURL is NATS_URL: an existing NATS/JetStream deployment; empty starts an embedded one.
	NATSURL string
	// NATSAddr is LEDGER_NATS_ADDR, the embedded server's client address.
	NATSAddr string
	// NATS configures the ledger's NATS identity and the credentials it issues.
	NATS NATS
	// StrictMode is PAPERCLIP_SECRETS_STRICT_MODE: plain values under sensitive env keys are refused.
	StrictMode bool
	// IdempotencyTTL is LEDGER_IDEMPOTENCY_TTL (default 24h): how long idempotency keys are kept.
	IdempotencyTTL time.Duration
	// LeaseTTL is LEDGER_LEASE_TTL (default 10s): how long a process holds a background
	// role (relay, checkpoint signer, backups, idempotency sweep) without renewing it, so
	// how soon another process takes a role over from one that died.
	LeaseTTL time.Duration
	// VaultHealthInterval is LEDGER_VAULT_HEALTH_INTERVAL (default 5m): how often one
	// process checks every usable provider vault's health; 0 turns the schedule off.
	VaultHealthInterval time.Duration
	// ConsoleSessionTTL is LEDGER_CONSOLE_SESSION_TTL (default 8h): how long a console
	// sign-in lasts; "0" turns the console off.
	ConsoleSessionTTL time.Duration
	// BackupInterval is LEDGER_BACKUP_INTERVAL: how often serve takes a backup of the
	// embedded database (default 24h; 0 off; off by default with DATABASE_URL).
	BackupInterval time.Duration
	// BackupRetain is LEDGER_BACKUP_RETAIN (default 7d): scheduled backups older than
	// this are pruned, except the newest verified one.
	BackupRetain time.Duration
	// BackupDir is LEDGER_BACKUP_DIR; empty means <instance>/backups.
	BackupDir string
	// AWS is the deployment's default aws_secrets_manager instance (PAPERCLIP_SECRETS_AWS_*).
	AWS AWS
	// Checkpoints configures the signing of the log's head.
	Checkpoints Checkpoints

	problems []string
}

// AWS configures the deployment's default aws_secrets_manager instance: the one used
// for a company without an AWS provider vault.
type AWS struct {
	// Region is PAPERCLIP_SECRETS_AWS_REGION, else AWS_REGION, else AWS_DEFAULT_REGION.
	Region string
	// DeploymentID names the deployment in secret names: <prefix>/<deploymentId>/<companyId>/<key>.
	DeploymentID string
	// KMSKeyID is the KMS key new secrets are encrypted with.
	KMSKeyID string
	// Prefix of secret names (default paperclip).
	Prefix string
	// Environment and ProviderOwner are tags of every managed secret.
	Environment, ProviderOwner string
	// Endpoint overrides the SDK's endpoint (local emulators); every AWS client uses it.
	Endpoint string
	// DeleteRecoveryDays is the recovery window of deleted secrets (7-30, default 30).
	DeleteRecoveryDays int
	// CacheTTL is LEDGER_AWS_CACHE_TTL (default 5m; 0 disables): how long resolved
	// versions are cached in memory.
	CacheTTL time.Duration
	// Vaults reports whether companies may have AWS vaults: LEDGER_AWS_VAULTS=on, or
	// PAPERCLIP_SECRETS_PROVIDER=aws_secrets_manager. Off, the server's ambient AWS
	// credentials are never used on a company's behalf.
	Vaults bool
	// ExternalPrefixes is LEDGER_AWS_EXTERNAL_PREFIXES: external-reference prefixes
	// approved for every company of the instance (["*"]: anything outside a managed
	// namespace); nil when unset, the default.
	ExternalPrefixes []string
}

// Checkpoints configures the signed checkpoints of the log's head.
type Checkpoints struct {
	// KeyFile is LEDGER_CHECKPOINT_KEY_FILE (default <instance>/secrets/checkpoint.key):
	// the ed25519 signing key, created 0600 by serve when missing. Empty means the default.
	KeyFile string
	// EveryEvents is LEDGER_CHECKPOINT_EVERY_EVENTS (default 1000): sign once the head has
	// moved this many events past the last checkpoint.
	EveryEvents int64
	// Every is LEDGER_CHECKPOINT_EVERY (default 10s): sign a head that moved at least this
	// often, however few events it moved by.
	Every time.Duration
	// ExportFile is LEDGER_CHECKPOINT_EXPORT: a file every checkpoint is appended to as a
	// JSON line (fsynced); empty: none.
	ExportFile string
	// IntegrityKeyFile is LEDGER_INTEGRITY_KEY_FILE (default <instance>/secrets/integrity.key):
	// the secret that keys credential hashes and authenticates events. Empty means the default.
	IntegrityKeyFile string
}

// NATS configures the decentralized (operator/account JWT) authentication the ledger
// uses with NATS. The embedded server's key material lives in <instance>/nats/auth; the
// files below are for NATS_URL.
type NATS struct {
	// CredsFile is LEDGER_NATS_CREDS_FILE: the ledger user's .creds file.
	CredsFile string
	// Account is LEDGER_NATS_ACCOUNT: the public key of the account the ledger publishes in.
	Account string
	// AccountSeedFile is LEDGER_NATS_ACCOUNT_SEED_FILE: a signing key seed of Account
	// (0600); subscriber JWTs are signed with it.
	AccountSeedFile string
	// OperatorSeedFile is LEDGER_NATS_OPERATOR_SEED_FILE: an operator signing key seed
	// (0600); with it, revocations are pushed into the account JWT.
	OperatorSeedFile string
	// SystemCredsFile is LEDGER_NATS_SYSTEM_CREDS_FILE: a system account user that
	// pushes the account JWT (needed with OperatorSeedFile).
	SystemCredsFile string
	// CredsTTL is LEDGER_NATS_CREDS_TTL (default 24h, 1m to 720h): the lifetime of
	// issued subscriber JWTs.
	CredsTTL time.Duration
	// Replicas is LEDGER_NATS_REPLICAS (default 1, 1 to 5): the LEDGER stream's
	// replication factor when the ledger creates it.
	Replicas int
}

// Var documents one environment variable, for --help and the README.
type Var struct{ Name, Default, Meaning string }

// Vars lists the environment variables FromEnv reads.
var Vars = []Var{
	{"LEDGER_HOME", "~/.secretsledger", "root of all instance directories"},
	{"LEDGER_INSTANCE", DefaultInstance, "instance id: data lives in $LEDGER_HOME/instances/<id>/"},
	{"LEDGER_HTTP_ADDR", DefaultHTTPAddr, "address the HTTP API listens on (not loopback and no TLS: a warning at start)"},
	{"LEDGER_TLS_CERT_FILE", "(unset: plain HTTP)", "PEM certificate (chain) of the API; serve HTTPS (TLS 1.2+) with LEDGER_TLS_KEY_FILE"},
	{"LEDGER_TLS_KEY_FILE", "(unset: plain HTTP)", "PEM private key of LEDGER_TLS_CERT_FILE"},
	{"DATABASE_URL", "(unset: embedded PostgreSQL)", "PostgreSQL connection URL of an existing server"},
	{"DATABASE_MIGRATION_URL", "(unset: DATABASE_URL)", "direct connection used for migrations when the runtime goes through a pooler"},
	{"NATS_URL", "(unset: embedded NATS)", "existing NATS/JetStream deployment: one URL or a cluster's comma-separated list (docs/scale-out.md)"},
	{"LEDGER_NATS_ADDR", DefaultNATSAddr, "client address of the embedded NATS server (operator mode: authentication always on)"},
	{"LEDGER_NATS_CREDS_FILE", "(unset: credentials in NATS_URL)", "with NATS_URL: the ledger user's .creds file"},
	{"LEDGER_NATS_ACCOUNT", "(unset)", "with NATS_URL: public key (A...) of the account the ledger publishes in; with LEDGER_NATS_ACCOUNT_SEED_FILE the ledger issues subscriber credentials"},
	{"LEDGER_NATS_ACCOUNT_SEED_FILE", "(unset: no subscriber credentials)", "with NATS_URL: seed of a signing key of LEDGER_NATS_ACCOUNT (mode 0600) that signs subscriber JWTs"},
	{"LEDGER_NATS_OPERATOR_SEED_FILE", "(unset)", "with NATS_URL: seed of an operator signing key (mode 0600); revocations are then pushed into the account JWT"},
	{"LEDGER_NATS_SYSTEM_CREDS_FILE", "(unset)", "with LEDGER_NATS_OPERATOR_SEED_FILE: .creds of a system account user that pushes the account JWT"},
	{"LEDGER_NATS_CREDS_TTL", "24h", "lifetime of issued subscriber credentials (a Go duration, 1m to 720h)"},
	{"LEDGER_NATS_REPLICAS", "1", "replicas of the LEDGER stream when the ledger creates it (1-5; 3 on a cluster)"},
	{"LEDGER_POSTGRES_BIN", "(searched)", "directory of the postgres and initdb binaries for the embedded mode"},
	{"LEDGER_POSTGRES_PORT", "(last used, else a free port)", "port of the embedded PostgreSQL, on 127.0.0.1"},
	{"LEDGER_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LEDGER_PPROF_ADDR", "(unset: off)", "serve Go's pprof handlers on this address, for profiling bench runs; loopback only (127.0.0.0/8, ::1, localhost)"},
	{"LEDGER_METRICS_ADDR", "(unset: GET /metrics on the API listener)", "serve Prometheus metrics on a listener of their own at this host:port (plain HTTP, no authentication; any interface)"},
	{"PAPERCLIP_SECRETS_PROVIDER", "local_encrypted", "provider of new secrets: local_encrypted or aws_secrets_manager"},
	{"PAPERCLIP_SECRETS_MASTER_KEY", "(unset)", "local_encrypted master key: 32 bytes as base64, hex or 32 raw characters"},
	{"PAPERCLIP_SECRETS_MASTER_KEY_FILE", "<instance>/secrets/master.key", "file holding the master key (created 0600 when the default is missing)"},
	{"LEDGER_DELETE_RECOVERY_DAYS", "30", "days a deleted secret can be restored"},
	{"LEDGER_BACKUP_INTERVAL", "24h", "how often serve backs up the embedded database (a Go duration; 0 off; with DATABASE_URL off unless set)"},
	{"LEDGER_BACKUP_RETAIN", "7d", "how long scheduled backups are kept (e.g. 7d, 36h); the newest verified one is never pruned"},
	{"LEDGER_BACKUP_DIR", "<instance>/backups", "where backups are written and listed"},
	{"LEDGER_LEASE_TTL", "10s", "how long a process keeps a background role (relay, checkpoint signer, backups, idempotency sweep) without renewing it: another process takes over a dead one's roles within about this long (1s to 5m)"},
	{"LEDGER_VAULT_HEALTH_INTERVAL", "5m", "how often the process holding the vault-health lease checks every usable provider vault's health (1s to 24h); 0 turns the scheduled checks off (POST …/health still checks one)"},
	{"LEDGER_CONSOLE_SESSION_TTL", "8h", "how long a browser console sign-in lasts before the board token must be given again (5m to 720h); 0 turns the console at /console/ off"},
	{"LEDGER_IDEMPOTENCY_TTL", "24h", "how long an Idempotency-Key is remembered (a Go duration, 1s to 720h)"},
	{"PAPERCLIP_SECRETS_STRICT_MODE", "false", "true: refuse plain values under sensitive env keys (use secret references)"},
	{"PAPERCLIP_SECRETS_AWS_REGION", "(unset: AWS_REGION, AWS_DEFAULT_REGION)", "aws_secrets_manager: AWS region of the deployment's default instance"},
	{"PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID", "(unset)", "aws_secrets_manager: deployment id in managed secret names"},
	{"PAPERCLIP_SECRETS_AWS_KMS_KEY_ID", "(unset)", "aws_secrets_manager: KMS key id or ARN"},
	{"PAPERCLIP_SECRETS_AWS_PREFIX", "paperclip", "aws_secrets_manager: secret name prefix"},
	{"PAPERCLIP_SECRETS_AWS_ENVIRONMENT", "(unset)", "aws_secrets_manager: environment tag"},
	{"PAPERCLIP_SECRETS_AWS_PROVIDER_OWNER", "paperclip", "aws_secrets_manager: provider owner tag"},
	{"PAPERCLIP_SECRETS_AWS_ENDPOINT", "(unset: the SDK's)", "aws_secrets_manager: endpoint override"},
	{"PAPERCLIP_SECRETS_AWS_DELETE_RECOVERY_DAYS", "30", "aws_secrets_manager: recovery window of deleted secrets"},
	{"LEDGER_AWS_CACHE_TTL", "5m", "aws_secrets_manager: how long a resolved version is cached in memory (0 disables)"},
	{"LEDGER_AWS_VAULTS", "off (on when PAPERCLIP_SECRETS_PROVIDER=aws_secrets_manager)", "on: companies may create aws_secrets_manager vaults (the server's AWS identity then reads and writes on their behalf); off: creating one is refused and existing ones stop being used"},
	{"LEDGER_AWS_EXTERNAL_PREFIXES", "(unset: none)", "external-reference prefixes approved for every company (comma-separated; * approves anything outside a managed namespace); for single-tenant deployments, else approve per company with `external-policy set`"},
	{"LEDGER_CHECKPOINT_KEY_FILE", "<instance>/secrets/checkpoint.key", "ed25519 key that signs checkpoints of the log's head (created 0600 when missing); keep it apart from the database"},
	{"LEDGER_INTEGRITY_KEY_FILE", "<instance>/secrets/integrity.key", "secret that keys stored credential hashes and authenticates every event (created 0600 when missing; refused if others may read it); every process of the instance needs the same file, kept apart from the database"},
	{"LEDGER_CHECKPOINT_EVERY_EVENTS", "1000", "sign the head once it moved this many events past the last checkpoint (1-1000000)"},
	{"LEDGER_CHECKPOINT_EVERY", "10s", "sign a head that moved at least this often (a Go duration, 100ms to 24h)"},
	{"LEDGER_CHECKPOINT_EXPORT", "(unset: none)", "file every signed checkpoint is appended to as a JSON line (fsynced), for verify --checkpoints"},
	{"LEDGER_URL", "http[s]://$LEDGER_HTTP_ADDR", "server the `secrets` client verbs talk to (https when LEDGER_TLS_CERT_FILE is set)"},
	{"SSL_CERT_FILE", "(system CA bundle)", "CA bundle the client verbs trust instead of the system's, e.g. the CA of a self-signed LEDGER_TLS_CERT_FILE"},
	{"LEDGER_TOKEN", "<instance>/board.token", "board token of the `secrets` client verbs"},
}

var instanceID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// FromLayered reads the configuration from the environment over the instance's
// config.json; a config.json that cannot be used is one of Validate's problems.
func FromLayered(l *Layered) Config {
	c := FromEnv(l.Getenv)
	if l.Problem != "" {
		c.problems = append(c.problems, l.Problem)
	}
	return c
}

// FromEnv reads the configuration through getenv (os.Getenv in production). It never
// fails: problems are kept for Validate, so that all of them are reported together.
func FromEnv(getenv func(string) string) Config {
	c := Config{
		Home:         getenv("LEDGER_HOME"),
		Instance:     getenv("LEDGER_INSTANCE"),
		DatabaseURL:  strings.TrimSpace(getenv("DATABASE_URL")),
		MigrationURL: strings.TrimSpace(getenv("DATABASE_MIGRATION_URL")),
		HTTPAddr:     getenv("LEDGER_HTTP_ADDR"),
		TLSCertFile:  strings.TrimSpace(getenv("LEDGER_TLS_CERT_FILE")),
		TLSKeyFile:   strings.TrimSpace(getenv("LEDGER_TLS_KEY_FILE")),
		PprofAddr:    strings.TrimSpace(getenv("LEDGER_PPROF_ADDR")),
		MetricsAddr:  strings.TrimSpace(getenv("LEDGER_METRICS_ADDR")),
		PostgresBin:  getenv("LEDGER_POSTGRES_BIN"),
		NATSURL:      strings.TrimSpace(getenv("NATS_URL")),
		NATSAddr:     getenv("LEDGER_NATS_ADDR"),
	}
	if c.NATSAddr == "" {
		c.NATSAddr = DefaultNATSAddr
	}
	c.NATS, c.problems = natsFromEnv(getenv, c.problems)
	if c.Home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			c.Home = filepath.Join(h, ".secretsledger")
		} else {
			c.problems = append(c.problems, "LEDGER_HOME is unset and there is no home directory to default to")
		}
	}
	if c.Instance == "" {
		c.Instance = DefaultInstance
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if v := getenv("LEDGER_POSTGRES_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			c.problems = append(c.problems, fmt.Sprintf("LEDGER_POSTGRES_PORT must be a port number (1-65535), got %q", v))
		}
		c.PostgresPort = p
	}
	c.SecretsProvider = strings.TrimSpace(getenv("PAPERCLIP_SECRETS_PROVIDER"))
	if c.SecretsProvider == "" {
		c.SecretsProvider = "local_encrypted"
	}
	if c.SecretsProvider != "local_encrypted" && c.SecretsProvider != "aws_secrets_manager" {
		c.problems = append(c.problems, fmt.Sprintf("PAPERCLIP_SECRETS_PROVIDER must be local_encrypted or aws_secrets_manager, got %q", c.SecretsProvider))
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("PAPERCLIP_SECRETS_STRICT_MODE"))); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		c.StrictMode = true
	default:
		c.problems = append(c.problems, fmt.Sprintf("PAPERCLIP_SECRETS_STRICT_MODE must be true or false, got %q", v))
	}
	c.DeleteRecovery = 30 * 24 * time.Hour
	if v := getenv("LEDGER_DELETE_RECOVERY_DAYS"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 0 || d > 3650 {
			c.problems = append(c.problems, fmt.Sprintf("LEDGER_DELETE_RECOVERY_DAYS must be a number of days (0-3650), got %q", v))
		}
		c.DeleteRecovery = time.Duration(d) * 24 * time.Hour
	}
	c.IdempotencyTTL, c.problems = boundedDuration(getenv, "LEDGER_IDEMPOTENCY_TTL", 24*time.Hour, time.Second, 720*time.Hour, false, c.problems)
	c.VaultHealthInterval, c.problems = boundedDuration(getenv, "LEDGER_VAULT_HEALTH_INTERVAL", 5*time.Minute, time.Second, 24*time.Hour, true, c.problems)
	c.ConsoleSessionTTL, c.problems = boundedDuration(getenv, "LEDGER_CONSOLE_SESSION_TTL", 8*time.Hour, 5*time.Minute, 720*time.Hour, true, c.problems)
	c.LeaseTTL, c.problems = boundedDuration(getenv, "LEDGER_LEASE_TTL", 10*time.Second, time.Second, 5*time.Minute, false, c.problems)
	c.BackupInterval, c.problems = backupDuration(getenv, "LEDGER_BACKUP_INTERVAL", 24*time.Hour, c.problems)
	if getenv("LEDGER_BACKUP_INTERVAL") == "" && getenv("DATABASE_URL") != "" {
		c.BackupInterval = 0 // an external database has its own tooling (continuous archiving)
	}
	c.BackupRetain, c.problems = backupDuration(getenv, "LEDGER_BACKUP_RETAIN", 7*24*time.Hour, c.problems)
	c.BackupDir = getenv("LEDGER_BACKUP_DIR")
	c.Checkpoints, c.problems = checkpointsFromEnv(getenv, c.problems)
	c.AWS, c.problems = awsFromEnv(getenv, c.SecretsProvider == "aws_secrets_manager", c.problems)
	switch v := strings.ToLower(getenv("LEDGER_LOG_LEVEL")); v {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		c.problems = append(c.problems, fmt.Sprintf("LEDGER_LOG_LEVEL must be debug, info, warn or error, got %q", v))
	}
	return c
}

// Validate reports every problem of the configuration, joined.
func (c Config) Validate() error {
	problems := append([]string(nil), c.problems...)
	if !instanceID.MatchString(c.Instance) {
		problems = append(problems, fmt.Sprintf("LEDGER_INSTANCE must be letters, digits, '.', '_' or '-' (at most 64), got %q", c.Instance))
	}
	if c.Home != "" && !filepath.IsAbs(c.Home) {
		problems = append(problems, fmt.Sprintf("LEDGER_HOME must be an absolute path, got %q", c.Home))
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		problems = append(problems, fmt.Sprintf("LEDGER_HTTP_ADDR must be host:port, got %q", c.HTTPAddr))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		problems = append(problems, "LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE go together: set both to serve HTTPS, or neither")
	}
	if c.PprofAddr != "" {
		// pprof exposes heap profiles, which may hold secret values: never off the machine.
		if host, port, err := net.SplitHostPort(c.PprofAddr); err != nil || port == "" || !isLoopbackHost(host) {
			problems = append(problems, fmt.Sprintf("LEDGER_PPROF_ADDR must be a loopback host:port (127.0.0.0/8, [::1] or localhost), got %q", c.PprofAddr))
		}
	}
	if c.MetricsAddr != "" {
		// Any interface: scrapers are usually remote, and the metrics carry route
		// templates and enums only, never ids, names or values.
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			problems = append(problems, fmt.Sprintf("LEDGER_METRICS_ADDR must be host:port, got %q", c.MetricsAddr))
		}
		if c.MetricsAddr == c.HTTPAddr {
			problems = append(problems, "LEDGER_METRICS_ADDR must differ from LEDGER_HTTP_ADDR; unset it to serve /metrics on the API listener")
		}
	}
	if _, port, err := net.SplitHostPort(c.NATSAddr); err != nil || port == "" {
		problems = append(problems, fmt.Sprintf("LEDGER_NATS_ADDR must be host:port, got %q", c.NATSAddr))
	}
	if c.NATSURL != "" && !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://") {
		problems = append(problems, "NATS_URL must look like nats://[user:password@]host:port")
	}
	problems = append(problems, c.NATS.problems(c.NATSURL != "")...)
	for _, u := range []struct{ name, value string }{{"DATABASE_URL", c.DatabaseURL}, {"DATABASE_MIGRATION_URL", c.MigrationURL}} {
		if u.value == "" {
			continue
		}
		// The parser's own message may echo the URL; ours never does (it may hold a password).
		if _, err := pgx.ParseConfig(u.value); err != nil || !looksLikeURL(u.value) {
			problems = append(problems, fmt.Sprintf("%s is not a valid PostgreSQL connection URL (expected postgres://user:password@host:port/database)", u.name))
		}
	}
	if c.MigrationURL != "" && c.DatabaseURL == "" {
		problems = append(problems, "DATABASE_MIGRATION_URL is set but DATABASE_URL is not; set both, or neither for the embedded database")
	}
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

func looksLikeURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// isLoopbackHost reports whether host (from host:port) is a loopback address or
// "localhost". An empty host means every interface, so it is not.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TLS reports whether the API is served over HTTPS.
func (c Config) TLS() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// HTTPLoopback reports whether LEDGER_HTTP_ADDR is reachable from this machine only.
// A host name other than localhost counts as not loopback: it may resolve to anything.
func (c Config) HTTPLoopback() bool {
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	return err == nil && isLoopbackHost(host)
}

// ClientURL is the default URL of the client verbs: the local server, over https when
// TLS is configured. A listener on every interface (empty, 0.0.0.0 or :: host) is
// reached as localhost, the name a local certificate most likely carries.
func (c Config) ClientURL() string {
	scheme := "http://"
	if c.TLS() {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return scheme + c.HTTPAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
}

func checkpointsFromEnv(getenv func(string) string, problems []string) (Checkpoints, []string) {
	cp := Checkpoints{KeyFile: strings.TrimSpace(getenv("LEDGER_CHECKPOINT_KEY_FILE")), EveryEvents: 1000, Every: 10 * time.Second,
		ExportFile: strings.TrimSpace(getenv("LEDGER_CHECKPOINT_EXPORT")), IntegrityKeyFile: strings.TrimSpace(getenv("LEDGER_INTEGRITY_KEY_FILE"))}
	if v := getenv("LEDGER_CHECKPOINT_EVERY_EVENTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 1_000_000 {
			problems = append(problems, fmt.Sprintf("LEDGER_CHECKPOINT_EVERY_EVENTS must be a number of events (1-1000000), got %q", v))
		}
		cp.EveryEvents = n
	}
	if v := getenv("LEDGER_CHECKPOINT_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > 24*time.Hour {
			problems = append(problems, fmt.Sprintf("LEDGER_CHECKPOINT_EVERY must be a duration from 100ms to 24h (e.g. 10s), got %q", v))
		}
		cp.Every = d
	}
	for _, f := range []struct{ name, path string }{{"LEDGER_CHECKPOINT_KEY_FILE", cp.KeyFile}, {"LEDGER_CHECKPOINT_EXPORT", cp.ExportFile}, {"LEDGER_INTEGRITY_KEY_FILE", cp.IntegrityKeyFile}} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			problems = append(problems, fmt.Sprintf("%s must be an absolute path, got %q", f.name, f.path))
		}
	}
	return cp, problems
}

// CheckpointKeyFile is the checkpoint signing key's path: LEDGER_CHECKPOINT_KEY_FILE, else
// <instance>/secrets/checkpoint.key.
func (c Config) CheckpointKeyFile() string {
	if c.Checkpoints.KeyFile != "" {
		return c.Checkpoints.KeyFile
	}
	return filepath.Join(c.InstanceDir(), "secrets", "checkpoint.key")
}

// IntegrityKeyFile is the integrity key's path: LEDGER_INTEGRITY_KEY_FILE, else
// <instance>/secrets/integrity.key.
func (c Config) IntegrityKeyFile() string {
	if c.Checkpoints.IntegrityKeyFile != "" {
		return c.Checkpoints.IntegrityKeyFile
	}
	return filepath.Join(c.InstanceDir(), "secrets", "integrity.key")
}

// InstanceDir is $LEDGER_HOME/instances/<id>.
func (c Config) InstanceDir() string { return filepath.Join(c.Home, "instances", c.Instance) }

// Embedded reports whether the ledger runs its own PostgreSQL.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// MigrationTarget is the URL migrations run against when the database is external.
func (c Config) MigrationTarget() string {
	if c.MigrationURL != "" {
		return c.MigrationURL
	}
	return c.DatabaseURL
}

// awsFromEnv reads PAPERCLIP_SECRETS_AWS_*; region, deployment id and KMS key are
// required when the deployment's default provider is aws_secrets_manager.
func awsFromEnv(getenv func(string) string, required bool, problems []string) (AWS, []string) {
	a := AWS{
		Region:             firstSet(getenv, "PAPERCLIP_SECRETS_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
		DeploymentID:       strings.TrimSpace(getenv("PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID")),
		KMSKeyID:           strings.TrimSpace(getenv("PAPERCLIP_SECRETS_AWS_KMS_KEY_ID")),
		Prefix:             strings.TrimSpace(getenv("PAPERCLIP_SECRETS_AWS_PREFIX")),
		Environment:        strings.TrimSpace(getenv("PAPERCLIP_SECRETS_AWS_ENVIRONMENT")),
		ProviderOwner:      strings.TrimSpace(getenv("PAPERCLIP_SECRETS_AWS_PROVIDER_OWNER")),
		Endpoint:           strings.TrimSpace(getenv("PAPERCLIP_SECRETS_AWS_ENDPOINT")),
		DeleteRecoveryDays: 30,
		CacheTTL:           5 * time.Minute,
	}
	if a.Prefix == "" {
		a.Prefix = "paperclip"
	}
	if a.ProviderOwner == "" {
		a.ProviderOwner = "paperclip"
	}
	if v := getenv("PAPERCLIP_SECRETS_AWS_DELETE_RECOVERY_DAYS"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 7 || d > 30 {
			problems = append(problems, fmt.Sprintf("PAPERCLIP_SECRETS_AWS_DELETE_RECOVERY_DAYS must be 7 to 30, got %q", v))
		}
		a.DeleteRecoveryDays = d
	}
	if v := getenv("LEDGER_AWS_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 24*time.Hour {
			problems = append(problems, fmt.Sprintf("LEDGER_AWS_CACHE_TTL must be a duration from 0 to 24h (e.g. 5m), got %q", v))
		}
		a.CacheTTL = d
	}
	switch v := getenv("LEDGER_AWS_VAULTS"); v {
	case "", "off":
		a.Vaults = required
	case "on":
		a.Vaults = true
	default:
		problems = append(problems, fmt.Sprintf("LEDGER_AWS_VAULTS must be on or off, got %q", v))
	}
	if v := getenv("LEDGER_AWS_EXTERNAL_PREFIXES"); strings.TrimSpace(v) != "" {
		var err error
		if a.ExternalPrefixes, err = commands.CheckInstancePrefixes(v); err != nil {
			problems = append(problems, "LEDGER_AWS_EXTERNAL_PREFIXES: "+ledgererr.MessageOf(err))
		}
	}
	if a.Endpoint != "" && !strings.HasPrefix(a.Endpoint, "https://") && !strings.HasPrefix(a.Endpoint, "http://") {
		problems = append(problems, "PAPERCLIP_SECRETS_AWS_ENDPOINT must be an http(s) URL")
	}
	if !required {
		return a, problems
	}
	for _, need := range []struct{ name, value string }{
		{"PAPERCLIP_SECRETS_AWS_REGION (or AWS_REGION)", a.Region},
		{"PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID", a.DeploymentID},
		{"PAPERCLIP_SECRETS_AWS_KMS_KEY_ID", a.KMSKeyID},
	} {
		if need.value == "" {
			problems = append(problems, fmt.Sprintf("%s is required when PAPERCLIP_SECRETS_PROVIDER=aws_secrets_manager", need.name))
		}
	}
	return a, problems
}

func firstSet(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

// boundedDuration reads name as a Go duration from lo to hi, def when unset; with off,
// 0 is accepted too (the feature is off).
func boundedDuration(getenv func(string) string, name string, def, lo, hi time.Duration, off bool, problems []string) (time.Duration, []string) {
	v := getenv(name)
	if v == "" {
		return def, problems
	}
	d, err := time.ParseDuration(v)
	if err != nil || (!(off && d == 0) && (d < lo || d > hi)) {
		want := fmt.Sprintf("a duration from %s to %s (e.g. %s)", shortDuration(lo), shortDuration(hi), shortDuration(def))
		if off {
			want = "0 (off) or " + want
		}
		problems = append(problems, fmt.Sprintf("%s must be %s, got %q", name, want, v))
	}
	return d, problems
}

// shortDuration writes 5m and 720h rather than 5m0s and 720h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// backupDuration parses a Go duration that may also be a number of days ("7d").
func backupDuration(getenv func(string) string, name string, def time.Duration, problems []string) (time.Duration, []string) {
	v := getenv(name)
	if v == "" {
		return def, problems
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return time.Duration(d) * 24 * time.Hour, problems
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return def, append(problems, fmt.Sprintf("%s must be a duration such as 24h or 7d (0 off), got %q", name, v))
	}
	return d, problems
}

func natsFromEnv(getenv func(string) string, problems []string) (NATS, []string) {
	n := NATS{
		CredsFile:        strings.TrimSpace(getenv("LEDGER_NATS_CREDS_FILE")),
		Account:          strings.TrimSpace(getenv("LEDGER_NATS_ACCOUNT")),
		AccountSeedFile:  strings.TrimSpace(getenv("LEDGER_NATS_ACCOUNT_SEED_FILE")),
		OperatorSeedFile: strings.TrimSpace(getenv("LEDGER_NATS_OPERATOR_SEED_FILE")),
		SystemCredsFile:  strings.TrimSpace(getenv("LEDGER_NATS_SYSTEM_CREDS_FILE")),
		CredsTTL:         24 * time.Hour,
		Replicas:         1,
	}
	n.CredsTTL, problems = boundedDuration(getenv, "LEDGER_NATS_CREDS_TTL", n.CredsTTL, time.Minute, 720*time.Hour, false, problems)
	if v := getenv("LEDGER_NATS_REPLICAS"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 1 || r > 5 {
			problems = append(problems, fmt.Sprintf("LEDGER_NATS_REPLICAS must be 1 to 5, got %q", v))
		}
		n.Replicas = r
	}
	return n, problems
}

// problems reports settings that do not fit together. The embedded server (external
// false) brings its own key material, so the files are for NATS_URL only.
func (n NATS) problems(external bool) []string {
	var out []string
	set := n.CredsFile != "" || n.Account != "" || n.AccountSeedFile != "" || n.OperatorSeedFile != "" || n.SystemCredsFile != ""
	if !external {
		if set {
			out = append(out, "LEDGER_NATS_CREDS_FILE, LEDGER_NATS_ACCOUNT and the LEDGER_NATS_*_SEED_FILE/SYSTEM_CREDS_FILE settings are for NATS_URL; the embedded server keeps its own in <instance>/nats/auth")
		}
		if n.Replicas > 1 {
			out = append(out, "LEDGER_NATS_REPLICAS above 1 needs a NATS cluster (NATS_URL); the embedded server is one node")
		}
		return out
	}
	if (n.Account == "") != (n.AccountSeedFile == "") {
		out = append(out, "LEDGER_NATS_ACCOUNT and LEDGER_NATS_ACCOUNT_SEED_FILE go together: set both to issue subscriber credentials, or neither")
	}
	if n.AccountSeedFile != "" && n.CredsFile == "" {
		out = append(out, "LEDGER_NATS_ACCOUNT_SEED_FILE needs LEDGER_NATS_CREDS_FILE: the ledger's own user in that account")
	}
	if n.OperatorSeedFile != "" && (n.AccountSeedFile == "" || n.SystemCredsFile == "") {
		out = append(out, "LEDGER_NATS_OPERATOR_SEED_FILE needs LEDGER_NATS_ACCOUNT_SEED_FILE and LEDGER_NATS_SYSTEM_CREDS_FILE")
	}
	if n.SystemCredsFile != "" && n.OperatorSeedFile == "" {
		out = append(out, "LEDGER_NATS_SYSTEM_CREDS_FILE is only used with LEDGER_NATS_OPERATOR_SEED_FILE")
	}
	return out
}
