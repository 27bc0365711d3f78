package awssm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// credentialTimeout bounds the credential chain's lookup in a health check (the
// instance metadata probe is the slow part when there is no instance).
const credentialTimeout = 5 * time.Second

// HealthDetails is what the provider reports about itself, safe to persist and print: no
// credential, ARN or account id.
type HealthDetails struct {
	Region           string
	Endpoint         string
	Prefix           string
	DeploymentID     string
	KMSKeyConfigured bool
	// CredentialSource is the SDK's name for where the credentials came from
	// (EnvConfigCredentials, SharedConfigCredentials, AssumeRoleProvider, EC2RoleProvider …);
	// empty when the chain found none.
	CredentialSource string
	// DetectedCredentialSources are the sources the environment points at: env,
	// profile, shared-config, web-identity, container.
	DetectedCredentialSources []string
	Warnings                  []string
	// Error is a safe message when the provider cannot work; empty when it can.
	Error string
}

// VaultMap is the part of the details that a vault's own configuration decides (region,
// prefix when ownPrefix, namespace as deploymentId, KMS key or not), under the names the
// ledger persists: what a health check of a company's vault records in that company's
// log. The instance's default prefix and where its credentials come from are left out.
func (d HealthDetails) VaultMap(ownPrefix bool) map[string]any {
	m := map[string]any{"region": d.Region, "deploymentId": d.DeploymentID, "kmsKeyConfigured": d.KMSKeyConfigured}
	if ownPrefix {
		m["prefix"] = d.Prefix
	}
	return m
}

// VaultSummary is VaultMap in words.
func (d HealthDetails) VaultSummary(ownPrefix bool) string {
	prefix := "the instance's default prefix"
	if ownPrefix {
		prefix = "prefix " + d.Prefix
	}
	return fmt.Sprintf("region %s, %s, namespace %s, %s", d.Region, prefix, d.DeploymentID, d.kmsText())
}

func (d HealthDetails) kmsText() string {
	if d.KMSKeyConfigured {
		return "KMS key configured"
	}
	return "no KMS key (aws/secretsmanager)"
}

// HealthDetails looks the credentials up through the chain (never printing them) and
// reports the configuration and where the credentials come from. It makes no Secrets
// Manager call.
func (p *Provider) HealthDetails(ctx context.Context) HealthDetails {
	getenv := p.opts.getenv
	d := HealthDetails{Region: p.cfg.Region, Endpoint: p.cfg.Endpoint, Prefix: p.cfg.Prefix, DeploymentID: p.cfg.DeploymentID,
		KMSKeyConfigured: p.cfg.KMSKeyID != "", DetectedCredentialSources: detectSources(getenv)}
	if getenv("AWS_ACCESS_KEY_ID") != "" {
		d.Warnings = append(d.Warnings, "static AWS_ACCESS_KEY_ID in the environment: acceptable only for local break-glass or short-lived tests; prefer a role, web identity or AWS_PROFILE/SSO")
	}
	if p.cfg.KMSKeyID == "" {
		d.Warnings = append(d.Warnings, "no KMS key configured: new secrets use the account's aws/secretsmanager key")
	}
	ctx, cancel := context.WithTimeout(ctx, credentialTimeout)
	defer cancel()
	creds, err := p.c.creds.Retrieve(ctx)
	if err != nil || !creds.HasKeys() {
		if err != nil {
			p.log.Warn("aws credential chain found no credentials", "err", err)
		}
		d.Error = "the AWS credential chain found no credentials (use a role, web identity, AWS_PROFILE/SSO, or for local use short-lived environment keys)"
		return d
	}
	d.CredentialSource = creds.Source
	return d
}

func detectSources(getenv func(string) string) []string {
	var out []string
	if getenv("AWS_ACCESS_KEY_ID") != "" {
		out = append(out, "env")
	}
	if getenv("AWS_PROFILE") != "" {
		out = append(out, "profile")
	}
	files := []string{getenv("AWS_CONFIG_FILE"), getenv("AWS_SHARED_CREDENTIALS_FILE")}
	if home := getenv("HOME"); home != "" {
		files = append(files, filepath.Join(home, ".aws", "config"), filepath.Join(home, ".aws", "credentials"))
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err == nil {
			out = append(out, "shared-config")
			break
		}
	}
	if getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" {
		out = append(out, "web-identity")
	}
	if getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" || getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "" {
		out = append(out, "container")
	}
	return out
}

// Health implements providers.Provider from HealthDetails: the configuration, endpoint,
// credential source and warnings are details of the instance; only the error, which
// says why nothing works, is a finding.
func (p *Provider) Health(ctx context.Context) providers.Health {
	d := p.HealthDetails(ctx)
	h := providers.Health{Provider: providers.AWSSecretsManager, OK: d.Error == "",
		Details: []string{fmt.Sprintf("region %s, prefix %s, deployment %s, %s", d.Region, d.Prefix, d.DeploymentID, d.kmsText())}}
	if d.Endpoint != "" {
		h.Details = append(h.Details, "endpoint "+d.Endpoint)
	}
	if d.CredentialSource != "" {
		h.Details = append(h.Details, "credentials from "+d.CredentialSource)
	}
	for _, w := range d.Warnings {
		h.Details = append(h.Details, "warning: "+w)
	}
	if d.Error != "" {
		h.Findings = append(h.Findings, "error: "+d.Error)
	}
	return h
}
