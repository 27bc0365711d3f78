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
	// Vault is the deployment's Vault session and default vault instance
	// (PAPERCLIP_SECRETS_VAULT_*).
	Vault Vault
	// Checkpoints configures the signing of the log's head.
	Checkpoints Checkpoints

	problems []string
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
	c.readLocation(getenv)
	c.readSecretsPolicy(getenv)
	c.readSchedules(getenv)
	c.Checkpoints, c.problems = checkpointsFromEnv(getenv, c.problems)
	c.AWS, c.problems = awsFromEnv(getenv, c.SecretsProvider == "aws_secrets_manager", c.problems)
	c.Vault, c.problems = vaultFromEnv(getenv, c.SecretsProvider == "vault", c.Instance, c.problems)
	c.LogLevel, c.problems = logLevelFromEnv(getenv, c.problems)
	return c
}

// readLocation fills in where the ledger lives and listens: home, instance, HTTP
// address and the embedded PostgreSQL's port.
func (c *Config) readLocation(getenv func(string) string) {
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
}

// readSecretsPolicy reads how new secrets are stored and kept: the default provider,
// strict mode and the delete recovery window.
func (c *Config) readSecretsPolicy(getenv func(string) string) {
	c.SecretsProvider = strings.TrimSpace(getenv("PAPERCLIP_SECRETS_PROVIDER"))
	if c.SecretsProvider == "" {
		c.SecretsProvider = "local_encrypted"
	}
	switch c.SecretsProvider {
	case "local_encrypted", "aws_secrets_manager", "vault":
	default:
		c.problems = append(c.problems, fmt.Sprintf("PAPERCLIP_SECRETS_PROVIDER must be local_encrypted, aws_secrets_manager or vault, got %q", c.SecretsProvider))
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
}

// readSchedules reads the lifetimes and intervals of the background work: idempotency
// keys, leases, vault health checks, console sessions and backups.
func (c *Config) readSchedules(getenv func(string) string) {
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
}

// logLevelFromEnv reads LEDGER_LOG_LEVEL; unset is info.
func logLevelFromEnv(getenv func(string) string, problems []string) (slog.Level, []string) {
	switch v := strings.ToLower(getenv("LEDGER_LOG_LEVEL")); v {
	case "", "info":
		return slog.LevelInfo, problems
	case "debug":
		return slog.LevelDebug, problems
	case "warn", "warning":
		return slog.LevelWarn, problems
	case "error":
		return slog.LevelError, problems
	default:
		return slog.LevelInfo, append(problems, fmt.Sprintf("LEDGER_LOG_LEVEL must be debug, info, warn or error, got %q", v))
	}
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
