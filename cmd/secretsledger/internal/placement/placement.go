package placement

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/queries"
)

// VaultReader is what placement reads of the vaults read model.
type VaultReader interface {
	Get(ctx context.Context, a actor.Actor, id string) (queries.Vault, error)
	Default(ctx context.Context, companyID, provider string) (queries.Vault, bool, error)
	RemoteVaultConfigs(ctx context.Context) ([]queries.Vault, error)
}

// VaultLog is what placement reads of the companies' authenticated logs
// (commands.Vaults.LoggedConfig).
type VaultLog interface {
	LoggedConfig(ctx context.Context, companyID, vaultID string) (provider string, cfg map[string]string, err error)
}

// Placer implements commands.Placer.
type Placer struct {
	Vaults VaultReader
	// Deployment holds the deployment's instances by provider id (local_encrypted always;
	// aws_secrets_manager or vault when PAPERCLIP_SECRETS_PROVIDER names it).
	Deployment map[string]providers.Provider
	// DefaultProvider is PAPERCLIP_SECRETS_PROVIDER.
	DefaultProvider string
	// AWS builds the instance of an AWS vault from its configuration.
	AWS func(ctx context.Context, cfg awssm.Config) (providers.Provider, error)
	// AWSDefaults are the deployment's settings a vault does not set: endpoint, KMS
	// key, recovery window, cache lifetime, tags; and the deployment id, whose
	// namespace is managed even when a vault sets its own.
	AWSDefaults awssm.Config
	// Logged reads a vault's provider and config from the company's authenticated log;
	// instances are built from that, the read model's row serving only to find the vault.
	// nil trusts the row (tests of placement alone).
	Logged VaultLog

	// AWSVaults reports whether the companies' AWS vaults may be used (LEDGER_AWS_VAULTS
	// on, or an AWS deployment). Off, an AWS vault is refused (provider_guardrail): the
	// host's ambient AWS credentials never serve a company the operator did not set up.
	AWSVaults bool
	// Vault builds the instance of a vault vault from its configuration, over the
	// deployment's Vault session; nil when the deployment has none (vault vaults are
	// then refused).
	Vault func(cfg vaultkv.Config) (providers.Provider, error)
	// VaultDefaults are the deployment's settings a vault vault does not set: namespace,
	// mount, prefix, retention, cache lifetime; and the deployment id, whose managed
	// root is managed even when the deployment's default provider is not vault.
	VaultDefaults vaultkv.Config
	// VaultAddress is the session's address: a vault vault naming another is refused
	// (the session's token would go to it).
	VaultAddress string

	mu        sync.Mutex
	instances map[string]vaultInstance // by vault id
	closed    bool                     // Close ran: no instance is built any more
}

// vaultInstance is the provider instance of a vault and the configuration it was built
// from.
type vaultInstance struct {
	config string // configKey of the vault's config
	inst   providers.Provider
}

// system reads any company's vault: placement has checked the company already.
var system = actor.Actor{Type: actor.Board, ID: "placement"}

var errVaultNotFound = ledgererr.New(ledgererr.NotFound, "provider vault not found")

// Place implements commands.Placer.
func (p *Placer) Place(ctx context.Context, a actor.Actor, companyID, providerID, vaultID string) (commands.Placement, error) {
	if vaultID != "" {
		v, err := p.Vaults.Get(ctx, a, vaultID)
		if ledgererr.CodeOf(err) == ledgererr.NotFound || (err == nil && v.CompanyID != companyID) {
			return commands.Placement{}, errVaultNotFound
		}
		if err != nil {
			return commands.Placement{}, err
		}
		switch {
		case providerID != "" && providerID != v.Provider:
			return commands.Placement{}, ledgererr.New(ledgererr.Invalid, "the provider vault is a %s vault, not %s", v.Provider, providerID)
		case !v.Usable():
			return commands.Placement{}, ledgererr.New(ledgererr.Invalid, "the provider vault is %s; secrets go to ready or warning vaults only", v.Status)
		}
		inst, err := p.instance(ctx, v)
		return commands.Placement{ProviderID: v.Provider, VaultID: v.ID, Provider: inst}, err
	}
	if providerID == "" {
		providerID = p.DefaultProvider
	}
	v, found, err := p.Vaults.Default(ctx, companyID, providerID)
	if err != nil {
		return commands.Placement{}, err
	}
	if found && v.Usable() {
		inst, err := p.instance(ctx, v)
		return commands.Placement{ProviderID: v.Provider, VaultID: v.ID, Provider: inst}, err
	}
	inst, ok := p.Deployment[providerID]
	if !ok {
		return commands.Placement{}, ledgererr.New(ledgererr.Invalid,
			"provider %q is not configured in this deployment and the company has no default vault of it", providerID)
	}
	return commands.Placement{ProviderID: providerID, Provider: inst}, nil
}

// Provider implements commands.Placer. A disabled vault still serves the secrets it
// holds: disabling stops new placements, not resolution.
func (p *Placer) Provider(ctx context.Context, providerID, vaultID string) (providers.Provider, error) {
	if vaultID == "" {
		inst, ok := p.Deployment[providerID]
		if !ok {
			return nil, ledgererr.New(ledgererr.Unavailable, "provider %q is not configured in this deployment", providerID)
		}
		return inst, nil
	}
	v, err := p.Vaults.Get(ctx, system, vaultID)
	if err != nil {
		return nil, err
	}
	if v.Provider != providerID {
		return nil, ledgererr.New(ledgererr.Internal, "vault %s is a %s vault, the secret says %s", v.ID, v.Provider, providerID)
	}
	return p.instance(ctx, v)
}

// instance is the provider instance a vault configures: local_encrypted vaults share
// the ledger's one local store; an AWS vault gets its own instance (its clients are
// shared per region by awssm). One instance is kept per vault: when the vault's config
// changed, a new one is built and the one it replaces is closed (its value cache wiped,
// its background work stopped), so config changes cannot pile up instances.
//
// The vault's stored config is checked first with the rule create and PATCH apply
// (commands.CheckVaultConfig): a vault stored before a rule was tightened is a
// configuration error naming the field (EINVALID), not an outage.
func (p *Placer) instance(ctx context.Context, v queries.Vault) (providers.Provider, error) {
	switch v.Provider {
	case providers.LocalEncrypted:
		return p.Deployment[providers.LocalEncrypted], nil
	case providers.AWSSecretsManager:
		if !p.AWSVaults {
			return nil, commands.ErrAWSVaultsOff
		}
	case providers.HashiCorpVault:
		if p.Vault == nil {
			return nil, ErrVaultVaultsOff
		}
	default:
		return nil, ledgererr.New(ledgererr.Invalid, "%s vaults cannot hold secrets yet", v.Provider)
	}
	key := configKey(v.Config)
	p.mu.Lock()
	cur, ok := p.instances[v.ID]
	p.mu.Unlock()
	if ok && cur.config == key {
		return cur.inst, nil // built from this very config, which passed the checks
	}
	v, err := p.logged(ctx, v)
	if err != nil {
		return nil, err
	}
	key = configKey(v.Config)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ledgererr.New(ledgererr.Unavailable, "the ledger is shutting down")
	}
	if cur, ok = p.instances[v.ID]; ok && cur.config == key {
		return cur.inst, nil
	}
	if err := p.checkStored(v); err != nil {
		return nil, err
	}
	inst, err := p.build(ctx, v)
	if err != nil {
		return nil, err
	}
	if ok {
		closeInstance(cur.inst)
	}
	if p.instances == nil {
		p.instances = map[string]vaultInstance{}
	}
	p.instances[v.ID] = vaultInstance{config: key, inst: inst}
	return inst, nil
}

// logged is v with the provider and config its company's log says (Logged): a row that
// says otherwise was changed past the log, or is behind it for a moment, and the log is
// what counts. A vault the company's log does not have is not found.
func (p *Placer) logged(ctx context.Context, v queries.Vault) (queries.Vault, error) {
	if p.Logged == nil {
		return v, nil
	}
	provider, cfg, err := p.Logged.LoggedConfig(ctx, v.CompanyID, v.ID)
	switch {
	case ledgererr.CodeOf(err) == ledgererr.NotFound:
		return v, errVaultNotFound
	case err != nil:
		return v, err
	case provider != v.Provider:
		return v, ledgererr.New(ledgererr.Internal, "vault %s is a %s vault in its company's log, not %s", v.ID, provider, v.Provider)
	}
	v.Config = cfg
	return v, nil
}

// ManagedNamespaces implements commands.ManagedNamespaces: the deployment's AWS
// namespace (when a deployment id is configured, AWS deployment or not) and every AWS
// vault's, of every company; with a Vault session, the deployment's managed root and
// every vault vault's, as [namespace/]mount/prefix/id/ (the name vault references are
// compared by).
func (p *Placer) ManagedNamespaces(ctx context.Context) ([]string, error) {
	vaults, err := p.Vaults.RemoteVaultConfigs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vaults)+2)
	if p.AWSDefaults.DeploymentID != "" {
		out = append(out, awssm.Namespace(p.AWSDefaults.Prefix, p.AWSDefaults.DeploymentID))
	}
	if p.Vault != nil {
		out = append(out, vaultRoot(p.VaultDefaults))
	}
	for _, v := range vaults {
		switch v.Provider {
		case providers.AWSSecretsManager:
			c := p.awsConfig(v)
			out = append(out, awssm.Namespace(c.Prefix, c.DeploymentID))
		case providers.HashiCorpVault:
			if p.Vault != nil {
				out = append(out, vaultRoot(p.VaultConfig(v)))
			}
		}
	}
	return out, nil
}

// closeInstance stops an instance's background work and drops what it keeps in memory.
func closeInstance(inst providers.Provider) {
	if c, ok := unwrap(inst).(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// awsConfig is a vault's AWS configuration over the deployment's: the vault's namespace
// is its deployment id, else the vault id.
func (p *Placer) awsConfig(v queries.Vault) awssm.Config {
	c := p.AWSDefaults
	c.Region = v.Config["region"]
	c.DeploymentID = v.ID
	if ns := v.Config["namespace"]; ns != "" {
		c.DeploymentID = ns
	}
	if prefix := v.Config["secretNamePrefix"]; prefix != "" {
		c.Prefix = prefix
	}
	if kms := v.Config["kmsKeyId"]; kms != "" {
		c.KMSKeyID = kms
	}
	if owner := v.Config["ownerTag"]; owner != "" {
		c.ProviderOwner = owner
	}
	if environment := v.Config["environmentTag"]; environment != "" {
		c.Environment = environment
	}
	return c
}

func configKey(cfg map[string]string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\x00", k, cfg[k])
	}
	return b.String()
}

// Check implements commands.VaultHealth: a local_encrypted vault is the ledger's own
// store; an AWS vault is checked by its provider (credentials found, static keys
// warned about); other providers cannot be checked. The result is recorded in the
// company's log, so it holds what the vault's own configuration says and why it fails,
// never the instance's endpoint or where its credentials come from.
func (p *Placer) Check(ctx context.Context, v commands.Vault) (status, message string, details map[string]any) {
	switch v.Provider {
	case providers.LocalEncrypted:
		return "ok", "local_encrypted stores values in the ledger's database", nil
	case providers.AWSSecretsManager:
	case providers.HashiCorpVault:
		return p.checkVault(ctx, v)
	default:
		return "warning", "not checked: " + v.Provider + " cannot be checked", nil
	}
	inst, err := p.instance(ctx, queries.Vault{ID: v.ID, CompanyID: v.CompanyID, Provider: v.Provider, Config: v.Config})
	if err != nil {
		return "error", ledgererr.MessageOf(err), nil
	}
	h := inst.Health(ctx)
	status, message = "ok", strings.Join(h.Findings, "; ")
	if d, ok := unwrap(inst).(interface {
		HealthDetails(ctx context.Context) awssm.HealthDetails
	}); ok {
		hd := d.HealthDetails(ctx)
		own := v.Config["secretNamePrefix"] != ""
		details = hd.VaultMap(own)
		message = strings.Join(append([]string{hd.VaultSummary(own)}, h.Findings...), "; ")
		if len(hd.Warnings) > 0 {
			status = "warning"
			message += "; warning: the instance's AWS setup has warnings (an instance-wide token sees them in the providers' health)"
		}
	}
	if !h.OK {
		status = "error"
	}
	return status, message, details
}

// unwrap returns the provider under a decorator (metrics), or p.
func unwrap(p providers.Provider) providers.Provider {
	if w, ok := p.(interface{ Unwrap() providers.Provider }); ok {
		return w.Unwrap()
	}
	return p
}

// Close stops the background work of the instances, the deployment's and those built
// for vaults, and wipes their caches; no instance is built afterwards. It is idempotent.
func (p *Placer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, vi := range p.instances {
		closeInstance(vi.inst)
	}
	clear(p.instances)
	for _, inst := range p.Deployment {
		closeInstance(inst)
	}
}

// DeploymentProviders lists the deployment's instances, local_encrypted first, for the
// providers routes (descriptors and health).
func (p *Placer) DeploymentProviders() []providers.Provider {
	out := []providers.Provider{p.Deployment[providers.LocalEncrypted]}
	for _, id := range commands.RemoteProviders {
		if inst, ok := p.Deployment[id]; ok {
			out = append(out, inst)
		}
	}
	return out
}
