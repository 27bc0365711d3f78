package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

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
