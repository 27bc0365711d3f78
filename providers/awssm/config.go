package awssm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// Defaults of Config.
const (
	DefaultPrefix             = "paperclip"
	DefaultProviderOwner      = "paperclip"
	DefaultDeleteRecoveryDays = 30
	// DefaultCacheTTL is the value cache's lifetime when the ledger's setting is unset.
	DefaultCacheTTL = 5 * time.Minute
)

// Config is one aws_secrets_manager provider (the deployment's, or a vault's). It holds
// routing metadata only: AWS credentials come from the SDK's default chain.
type Config struct {
	// Region, e.g. us-east-1.
	Region string
	// Endpoint overrides the Secrets Manager endpoint (an emulator, a VPC endpoint);
	// empty uses AWS's.
	Endpoint string
	// DeploymentID is the namespace under the prefix: one or more name segments (see
	// CheckNamePath), at most MaxNamespaceLength characters.
	DeploymentID string
	// Prefix is the first segment(s) of every secret name, at most MaxPrefixLength
	// characters; empty means DefaultPrefix.
	Prefix string
	// KMSKeyID encrypts new secrets; empty uses the account's aws/secretsmanager key.
	KMSKeyID      string
	Environment   string
	ProviderOwner string // empty means DefaultProviderOwner
	// DeleteRecoveryDays is the recovery window of a soft delete (7–30); 0 means
	// DefaultDeleteRecoveryDays.
	DeleteRecoveryDays int
	// CacheTTL is how long a resolved value is kept in memory; 0 disables the cache.
	CacheTTL time.Duration
	// Log receives raw AWS errors (at warn); nil discards them.
	Log *slog.Logger
	// Fingerprint is the ledger's keyed fingerprint of a company's value (an HMAC under
	// a key of that company's, never a bare hash).
	Fingerprint func(company string, v providers.Value) string
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d+$`)

// withDefaults fills the fields whose zero value means "the default".
func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ProviderOwner == "" {
		c.ProviderOwner = DefaultProviderOwner
	}
	if c.DeleteRecoveryDays == 0 {
		c.DeleteRecoveryDays = DefaultDeleteRecoveryDays
	}
	return c
}

// Validate reports every problem of the configuration at once (after defaults). Values
// that would be rewritten by name sanitising are refused, not rewritten, so that the
// names at AWS are the ones the operator configured.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !regionPattern.MatchString(c.Region) {
		bad("aws region %q is not a region name like us-east-1", c.Region)
	}
	if c.DeploymentID == "" {
		bad("aws deployment id is required")
	} else if problem := CheckNamePath(c.DeploymentID, MaxNamespaceLength); problem != "" {
		bad("aws deployment id %s", problem)
	}
	if problem := CheckNamePath(c.Prefix, MaxPrefixLength); problem != "" {
		bad("aws prefix %s", problem)
	}
	if len(c.KMSKeyID) > 512 || strings.ContainsAny(c.KMSKeyID, " \t\r\n") {
		bad("aws kms key id must be at most 512 characters without spaces")
	}
	if len(c.Environment) > 256 {
		bad("aws environment tag is longer than 256 characters")
	}
	if len(c.ProviderOwner) > 256 {
		bad("aws provider owner tag is longer than 256 characters")
	}
	if c.DeleteRecoveryDays < 7 || c.DeleteRecoveryDays > 30 {
		bad("aws delete recovery days must be 7-30, not %d", c.DeleteRecoveryDays)
	}
	if c.CacheTTL < 0 {
		bad("aws cache ttl must not be negative")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("aws endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	if c.Fingerprint == nil {
		bad("aws provider needs the ledger's keyed fingerprint function")
	}
	return errors.Join(errs...)
}
