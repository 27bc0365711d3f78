package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/srv/ledger"}))
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != DefaultHTTPAddr || c.Instance != "default" || !c.Embedded() || c.InstanceDir() != "/srv/ledger/instances/default" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestValidateReportsEveryProblemWithoutLeakingURLs(t *testing.T) {
	c := FromEnv(env(map[string]string{
		"LEDGER_HOME":          "relative/home",
		"LEDGER_INSTANCE":      "../escape",
		"LEDGER_HTTP_ADDR":     "no-port",
		"DATABASE_URL":         "postgres://user:hunter2@host:notaport/db",
		"LEDGER_POSTGRES_PORT": "70000",
		"LEDGER_LOG_LEVEL":     "loud",
	}))
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	for _, want := range []string{"LEDGER_HOME", "LEDGER_INSTANCE", "LEDGER_HTTP_ADDR", "DATABASE_URL", "LEDGER_POSTGRES_PORT", "LEDGER_LOG_LEVEL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s: %s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error leaks the database password: %s", msg)
	}
}

func TestMigrationURLNeedsDatabaseURL(t *testing.T) {
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "DATABASE_MIGRATION_URL": "postgres://a@b/c"}))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "DATABASE_MIGRATION_URL") {
		t.Fatalf("err = %v", err)
	}
	c = FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "DATABASE_URL": "postgres://a@pooler/c", "DATABASE_MIGRATION_URL": "postgres://a@direct/c"}))
	if err := c.Validate(); err != nil || c.MigrationTarget() != "postgres://a@direct/c" {
		t.Fatalf("err = %v, target %s", err, c.MigrationTarget())
	}
}

func TestIdempotencyTTL(t *testing.T) {
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.IdempotencyTTL != 24*time.Hour {
		t.Fatalf("default TTL %v", c.IdempotencyTTL)
	}
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.LeaseTTL != 10*time.Second {
		t.Fatalf("default lease TTL %s", c.LeaseTTL)
	}
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_LEASE_TTL": "2s"})); c.Validate() != nil || c.LeaseTTL != 2*time.Second {
		t.Fatalf("lease TTL %s: %v", c.LeaseTTL, c.Validate())
	}
	for _, bad := range []string{"500ms", "1h", "soon"} {
		if err := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_LEASE_TTL": bad})).Validate(); err == nil || !strings.Contains(err.Error(), "LEDGER_LEASE_TTL") {
			t.Fatalf("LEDGER_LEASE_TTL=%s: %v", bad, err)
		}
	}
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_IDEMPOTENCY_TTL": "90s"})); c.Validate() != nil || c.IdempotencyTTL != 90*time.Second {
		t.Fatalf("90s: %v %v", c.IdempotencyTTL, c.Validate())
	}
	for _, bad := range []string{"0s", "500ms", "721h", "soon", "-1h"} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_IDEMPOTENCY_TTL": bad}))
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "LEDGER_IDEMPOTENCY_TTL") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestPprofAddrMustBeLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060":   true,
		"127.8.9.10:6060":  true,
		"[::1]:6060":       true,
		"localhost:6060":   true,
		"LOCALHOST:6060":   true,
		"0.0.0.0:6060":     false,
		":6060":            false,
		"[::]:6060":        false,
		"10.0.0.5:6060":    false,
		"example.com:6060": false,
		"127.0.0.1":        false, // no port
	} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_PPROF_ADDR": addr}))
		err := c.Validate()
		if ok && (err != nil || c.PprofAddr != addr) {
			t.Errorf("%s refused: %v", addr, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "LEDGER_PPROF_ADDR")) {
			t.Errorf("%s accepted: %v", addr, err)
		}
	}
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.PprofAddr != "" || c.Validate() != nil {
		t.Fatalf("pprof on by default: %q", c.PprofAddr)
	}
}

func TestTLSFilesGoTogether(t *testing.T) {
	for _, vars := range []map[string]string{
		{"LEDGER_TLS_CERT_FILE": "/etc/ledger/cert.pem"},
		{"LEDGER_TLS_KEY_FILE": "/etc/ledger/key.pem"},
	} {
		vars["LEDGER_HOME"] = "/h"
		c := FromEnv(env(vars))
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE") {
			t.Errorf("%v: err = %v", vars, err)
		}
		if c.TLS() {
			t.Errorf("%v: half a pair turns TLS on", vars)
		}
	}
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_TLS_CERT_FILE": "/c.pem", "LEDGER_TLS_KEY_FILE": "/k.pem"}))
	if err := c.Validate(); err != nil || !c.TLS() {
		t.Fatalf("both set: %v, TLS %v", err, c.TLS())
	}
}

func TestClientURLAndLoopback(t *testing.T) {
	tls := map[string]string{"LEDGER_TLS_CERT_FILE": "/c.pem", "LEDGER_TLS_KEY_FILE": "/k.pem"}
	for _, tc := range []struct {
		addr     string
		tls      bool
		url      string
		loopback bool
	}{
		{"127.0.0.1:3180", false, "http://127.0.0.1:3180", true},
		{"127.0.0.1:3180", true, "https://127.0.0.1:3180", true},
		{"localhost:3180", true, "https://localhost:3180", true},
		{"[::1]:3180", false, "http://[::1]:3180", true},
		{"0.0.0.0:3180", true, "https://localhost:3180", false},
		{":3180", false, "http://localhost:3180", false},
		{"[::]:3180", false, "http://localhost:3180", false},
		{"ledger.internal:3180", true, "https://ledger.internal:3180", false},
		{"192.0.2.7:3180", false, "http://192.0.2.7:3180", false},
	} {
		vars := map[string]string{"LEDGER_HOME": "/h", "LEDGER_HTTP_ADDR": tc.addr}
		if tc.tls {
			for k, v := range tls {
				vars[k] = v
			}
		}
		c := FromEnv(env(vars))
		if got := c.ClientURL(); got != tc.url {
			t.Errorf("%s (tls %v): ClientURL = %s, want %s", tc.addr, tc.tls, got, tc.url)
		}
		if got := c.HTTPLoopback(); got != tc.loopback {
			t.Errorf("%s: HTTPLoopback = %v", tc.addr, got)
		}
	}
}

func TestMetricsAddrIsAnyHostPort(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9464":      true,
		"0.0.0.0:9464":        true, // scrapers are remote
		":9464":               true,
		"[::]:9464":           true,
		"metrics.local:9464":  true,
		"127.0.0.1":           false, // no port
		"9464":                false,
		"127.0.0.1:3180":      false, // the API's own address
		"http://0.0.0.0:9464": false,
	} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_METRICS_ADDR": addr}))
		err := c.Validate()
		if ok && (err != nil || c.MetricsAddr != addr) {
			t.Errorf("%s refused: %v", addr, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "LEDGER_METRICS_ADDR")) {
			t.Errorf("%s accepted: %v", addr, err)
		}
	}
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.MetricsAddr != "" || c.Validate() != nil {
		t.Fatalf("a metrics listener by default: %q", c.MetricsAddr)
	}
}

func TestAWSDeploymentDefault(t *testing.T) {
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_PROVIDER": "aws_secrets_manager", "AWS_REGION": "eu-west-1"}))
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID") || !strings.Contains(err.Error(), "PAPERCLIP_SECRETS_AWS_KMS_KEY_ID") ||
		strings.Contains(err.Error(), "REGION") {
		t.Fatalf("missing AWS settings: %v", err)
	}
	c = FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_PROVIDER": "aws_secrets_manager",
		"PAPERCLIP_SECRETS_AWS_REGION": "us-east-1", "AWS_REGION": "eu-west-1", "PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID": "prod-us-1",
		"PAPERCLIP_SECRETS_AWS_KMS_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/abcd", "LEDGER_AWS_CACHE_TTL": "0"}))
	if err := c.Validate(); err != nil || c.AWS.Region != "us-east-1" || c.AWS.Prefix != "paperclip" || c.AWS.DeleteRecoveryDays != 30 || c.AWS.CacheTTL != 0 {
		t.Fatalf("aws config %+v, %v", c.AWS, err)
	}
	for k, v := range map[string]string{"PAPERCLIP_SECRETS_AWS_DELETE_RECOVERY_DAYS": "6", "LEDGER_AWS_CACHE_TTL": "soon",
		"PAPERCLIP_SECRETS_AWS_ENDPOINT": "localhost:4566", "LEDGER_AWS_EXTERNAL_PREFIXES": "team/,*"} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", k: v}))
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	// Unset approves nothing; prefixes are trimmed; * alone approves anything.
	for v, want := range map[string]string{"": "", " team-b/ , shared/": "team-b/|shared/", "*": "*"} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_AWS_EXTERNAL_PREFIXES": v}))
		if err := c.Validate(); err != nil || strings.Join(c.AWS.ExternalPrefixes, "|") != want {
			t.Errorf("LEDGER_AWS_EXTERNAL_PREFIXES=%q: %q %v", v, c.AWS.ExternalPrefixes, err)
		}
	}
}

// AWS vaults: off by default, on with LEDGER_AWS_VAULTS=on or an AWS deployment; only
// on and off are accepted.
func TestAWSVaults(t *testing.T) {
	aws := map[string]string{"LEDGER_HOME": "/h", "PAPERCLIP_SECRETS_PROVIDER": "aws_secrets_manager", "AWS_REGION": "eu-west-1",
		"PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID": "d", "PAPERCLIP_SECRETS_AWS_KMS_KEY_ID": "k"}
	for _, tc := range []struct {
		vars map[string]string
		want bool
	}{
		{map[string]string{"LEDGER_HOME": "/h"}, false},
		{map[string]string{"LEDGER_HOME": "/h", "LEDGER_AWS_VAULTS": "off"}, false},
		{map[string]string{"LEDGER_HOME": "/h", "LEDGER_AWS_VAULTS": "on"}, true},
		{aws, true},
	} {
		c := FromEnv(env(tc.vars))
		if err := c.Validate(); err != nil || c.AWS.Vaults != tc.want {
			t.Errorf("%v: vaults %v, %v", tc.vars, c.AWS.Vaults, err)
		}
	}
	for _, bad := range []string{"yes", "ON", "1", "true"} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_AWS_VAULTS": bad}))
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "LEDGER_AWS_VAULTS must be on or off") {
			t.Errorf("LEDGER_AWS_VAULTS=%s: %v", bad, err)
		}
	}
}

func TestCheckpoints(t *testing.T) {
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"}))
	if c.Validate() != nil || c.Checkpoints.EveryEvents != 1000 || c.Checkpoints.Every != 10*time.Second ||
		c.Checkpoints.ExportFile != "" || c.CheckpointKeyFile() != "/h/instances/default/secrets/checkpoint.key" {
		t.Fatalf("defaults: %+v %s", c.Checkpoints, c.CheckpointKeyFile())
	}
	c = FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_CHECKPOINT_EVERY_EVENTS": "5", "LEDGER_CHECKPOINT_EVERY": "250ms",
		"LEDGER_CHECKPOINT_KEY_FILE": "/keys/cp.key", "LEDGER_CHECKPOINT_EXPORT": "/mnt/cp.jsonl"}))
	if c.Validate() != nil || c.Checkpoints.EveryEvents != 5 || c.Checkpoints.Every != 250*time.Millisecond ||
		c.CheckpointKeyFile() != "/keys/cp.key" || c.Checkpoints.ExportFile != "/mnt/cp.jsonl" {
		t.Fatalf("set: %+v", c.Checkpoints)
	}
	for name, bad := range map[string]string{"LEDGER_CHECKPOINT_EVERY_EVENTS": "0", "LEDGER_CHECKPOINT_EVERY": "10",
		"LEDGER_CHECKPOINT_KEY_FILE": "relative.key", "LEDGER_CHECKPOINT_EXPORT": "out.jsonl"} {
		c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", name: bad}))
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, bad, err)
		}
	}
}

func TestNATSSettings(t *testing.T) {
	t.Parallel()
	c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"}))
	if c.Validate() != nil || c.NATS.CredsTTL != 24*time.Hour || c.NATS.Replicas != 1 {
		t.Fatalf("defaults %+v: %v", c.NATS, c.Validate())
	}
	full := map[string]string{"LEDGER_HOME": "/h", "NATS_URL": "nats://a:4222,nats://b:4222", "LEDGER_NATS_CREDS_FILE": "/k/ledger.creds",
		"LEDGER_NATS_ACCOUNT": "AXXX", "LEDGER_NATS_ACCOUNT_SEED_FILE": "/k/acc.seed", "LEDGER_NATS_OPERATOR_SEED_FILE": "/k/op.seed",
		"LEDGER_NATS_SYSTEM_CREDS_FILE": "/k/sys.creds", "LEDGER_NATS_CREDS_TTL": "2h", "LEDGER_NATS_REPLICAS": "3"}
	if c := FromEnv(env(full)); c.Validate() != nil || c.NATS.CredsTTL != 2*time.Hour || c.NATS.Replicas != 3 || c.NATS.SystemCredsFile != "/k/sys.creds" {
		t.Fatalf("full %+v: %v", c.NATS, c.Validate())
	}
	for name, tc := range map[string]struct {
		drop, want string
		set        map[string]string
	}{
		"account without seed":      {drop: "LEDGER_NATS_ACCOUNT_SEED_FILE", want: "go together"},
		"seed without ledger creds": {drop: "LEDGER_NATS_CREDS_FILE", want: "needs LEDGER_NATS_CREDS_FILE"},
		"operator without system":   {drop: "LEDGER_NATS_SYSTEM_CREDS_FILE", want: "needs LEDGER_NATS_ACCOUNT_SEED_FILE and LEDGER_NATS_SYSTEM_CREDS_FILE"},
		"ttl too long":              {set: map[string]string{"LEDGER_NATS_CREDS_TTL": "1000h"}, want: "LEDGER_NATS_CREDS_TTL"},
		"ttl too short":             {set: map[string]string{"LEDGER_NATS_CREDS_TTL": "5s"}, want: "LEDGER_NATS_CREDS_TTL"},
		"replicas":                  {set: map[string]string{"LEDGER_NATS_REPLICAS": "7"}, want: "LEDGER_NATS_REPLICAS"},
		"embedded with files":       {drop: "NATS_URL", want: "are for NATS_URL"},
	} {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		delete(m, tc.drop)
		for k, v := range tc.set {
			m[k] = v
		}
		if err := FromEnv(env(m)).Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConsoleSessionTTL(t *testing.T) {
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.ConsoleSessionTTL != 8*time.Hour {
		t.Fatalf("default %s", c.ConsoleSessionTTL)
	}
	for v, want := range map[string]time.Duration{"0": 0, "30m": 30 * time.Minute, "720h": 720 * time.Hour} {
		if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_CONSOLE_SESSION_TTL": v})); c.Validate() != nil || c.ConsoleSessionTTL != want {
			t.Fatalf("%s: %s %v", v, c.ConsoleSessionTTL, c.Validate())
		}
	}
	for _, bad := range []string{"1m", "721h", "0s5", "soon", "-1h"} {
		err := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_CONSOLE_SESSION_TTL": bad})).Validate()
		if err == nil || !strings.Contains(err.Error(), "LEDGER_CONSOLE_SESSION_TTL") {
			t.Fatalf("LEDGER_CONSOLE_SESSION_TTL=%s: %v", bad, err)
		}
	}
}

func TestVaultHealthInterval(t *testing.T) {
	if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h"})); c.VaultHealthInterval != 5*time.Minute {
		t.Fatalf("default %s", c.VaultHealthInterval)
	}
	for v, want := range map[string]time.Duration{"0": 0, "1s": time.Second, "24h": 24 * time.Hour} {
		if c := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_VAULT_HEALTH_INTERVAL": v})); c.Validate() != nil || c.VaultHealthInterval != want {
			t.Fatalf("%s: %s %v", v, c.VaultHealthInterval, c.Validate())
		}
	}
	for _, bad := range []string{"500ms", "25h", "often", "-1m"} {
		err := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_VAULT_HEALTH_INTERVAL": bad})).Validate()
		if err == nil || !strings.Contains(err.Error(), "LEDGER_VAULT_HEALTH_INTERVAL") {
			t.Fatalf("LEDGER_VAULT_HEALTH_INTERVAL=%s: %v", bad, err)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Second: "1s", 10 * time.Second: "10s", 5 * time.Minute: "5m",
		8 * time.Hour: "8h", 720 * time.Hour: "720h", 90 * time.Minute: "1h30m"} {
		if got := shortDuration(d); got != want {
			t.Fatalf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
	err := FromEnv(env(map[string]string{"LEDGER_HOME": "/h", "LEDGER_CONSOLE_SESSION_TTL": "1m"})).Validate()
	if err == nil || !strings.Contains(err.Error(), "0 (off) or a duration from 5m to 720h (e.g. 8h)") {
		t.Fatalf("message: %v", err)
	}
}
