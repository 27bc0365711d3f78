package awssm

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/ttlcache"
)

// DefaultCallTimeout bounds one provider call at AWS, the SDK's retries included.
const DefaultCallTimeout = 30 * time.Second

// Provider is aws_secrets_manager. It implements providers.Provider, Committer,
// SoftDeleter and BatchResolver. Close stops its background Commit retries.
type Provider struct {
	cfg     Config
	opts    options
	c       *client
	log     *slog.Logger
	cache   *valueCache
	commits *commitQueue
	// tagChecks are the answers of ManagedByLedger, by reference.
	tagChecks *ttlcache.Cache[string, bool]
}

var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Committer     = (*Provider)(nil)
	_ providers.SoftDeleter   = (*Provider)(nil)
	_ providers.BatchResolver = (*Provider)(nil)
)

// New validates cfg and returns its provider. The AWS client is shared with every other
// provider of the same region and endpoint; no AWS call is made here.
func New(ctx context.Context, cfg Config, opts ...Option) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{callTimeout: DefaultCallTimeout, commitBackoff: 2 * time.Second, commitTries: 8, getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	c, err := sharedClient(ctx, cfg.Region, cfg.Endpoint, o)
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Provider{cfg: cfg, opts: o, c: c, log: log, cache: newValueCache(cfg.CacheTTL),
		tagChecks: ttlcache.New[string, bool](min(cfg.CacheTTL, TagCheckTTL), TagCheckCacheSize)}
	p.commits = startCommitQueue(p)
	return p, nil
}

// Close stops the background retry of failed Commits (pending ones are dropped: the
// versions they name stay resolvable, only AWSCURRENT lags) and wipes the value cache,
// which keeps nothing afterwards. A closed provider still answers calls (one in flight
// when a vault's configuration changed finishes), without caching; Close is idempotent.
func (p *Provider) Close() error {
	p.commits.stop()
	p.cache.close()
	p.tagChecks.Close()
	return nil
}

// Descriptor implements providers.Provider.
func (p *Provider) Descriptor() providers.Descriptor {
	return providers.Descriptor{ID: providers.AWSSecretsManager, Label: "AWS Secrets Manager",
		SupportsManagedValues: true, SupportsExternalReferences: true, Configured: true}
}

// Name returns the AWS secret name of ref (it does not check the guardrail).
func (p *Provider) Name(ref providers.Ref) string { return p.scope(ref).Name() }

func (p *Provider) scope(ref providers.Ref) Scope {
	return Scope{Prefix: p.cfg.Prefix, DeploymentID: p.cfg.DeploymentID, CompanyID: ref.CompanyID, Key: ref.Key}
}

// target derives ref's secret name and passes it through the guardrail; every AWS call
// starts here, so a refused ref makes no call.
func (p *Provider) target(ref providers.Ref) (string, error) {
	if ref.Key == "" || ref.CompanyID == "" {
		return "", ledgererr.New(ledgererr.Invalid, "the aws_secrets_manager provider names secrets after their company and key; this value has none")
	}
	name := p.Name(ref)
	if err := CheckTarget(name, p.scope(ref)); err != nil {
		p.log.Warn("aws secrets manager guardrail refused a target", "company", ref.CompanyID, "secret", ref.SecretID, "err", err)
		return "", err
	}
	return name, nil
}

func (p *Provider) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.opts.callTimeout)
}

func (p *Provider) tags(ref providers.Ref) []types.Tag {
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	return []types.Tag{
		tag(TagManagedBy, managedByValue),
		tag(TagProviderOwner, p.cfg.ProviderOwner),
		tag(TagDeploymentID, p.cfg.DeploymentID),
		tag(TagCompanyID, Sanitize(ref.CompanyID)),
		tag(TagSecretKey, Sanitize(ref.Key)),
		tag(TagEnvironment, p.cfg.Environment),
	}
}
