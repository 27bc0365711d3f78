package awssm

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// DefaultCallTimeout bounds one provider call at AWS, the SDK's retries included.
const DefaultCallTimeout = 30 * time.Second

// batchLimit is BatchGetSecretValue's most secrets per call.
const batchLimit = 20

// Provider is aws_secrets_manager. It implements providers.Provider, Committer,
// SoftDeleter and BatchResolver. Close stops its background Commit retries.
type Provider struct {
	cfg     Config
	opts    options
	c       *client
	log     *slog.Logger
	cache   *valueCache
	commits *commitQueue
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
	p := &Provider{cfg: cfg, opts: o, c: c, log: log, cache: newValueCache(cfg.CacheTTL)}
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

// valueInput stores UTF-8 values as SecretString (what AWS consoles and SDK readers
// expect) and anything else as SecretBinary.
func valueInput(v providers.Value) (*string, []byte) {
	if utf8.Valid(v.Reveal()) {
		return aws.String(string(v.Reveal())), nil
	}
	return nil, v.Reveal()
}

func valueOutput(s *string, b []byte) providers.Value {
	if s != nil {
		return providers.NewValue([]byte(*s))
	}
	return providers.NewValue(b)
}

// Put implements providers.Provider: version 1 is CreateSecret (with the tags and the
// KMS key), a later version is PutSecretValue labelled PAPERCLIP_PENDING only, so AWS's
// current version does not move before the ledger commits. The request token makes a
// retried Put of the same ref and value return the same version.
func (p *Provider) Put(ctx context.Context, ref providers.Ref, v providers.Value) (providers.Stored, error) {
	name, err := p.target(ref)
	if err != nil {
		return providers.Stored{}, err
	}
	if ref.Version < 1 {
		return providers.Stored{}, ledgererr.New(ledgererr.Invalid, "the aws_secrets_manager provider stores numbered versions only")
	}
	fp := p.cfg.Fingerprint(ref.CompanyID, v)
	token := requestToken(p.cfg.DeploymentID, ref, fp)
	str, bin := valueInput(v)
	ctx, cancel := p.call(ctx)
	defer cancel()
	var vid *string
	if ref.Version == 1 {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), ClientRequestToken: aws.String(token),
			SecretString: str, SecretBinary: bin, Tags: p.tags(ref)}
		if p.cfg.KMSKeyID != "" {
			in.KmsKeyId = aws.String(p.cfg.KMSKeyID)
		}
		out, err := p.c.sm.CreateSecret(ctx, in)
		if err != nil {
			return providers.Stored{}, p.mapError("CreateSecret", err)
		}
		vid = out.VersionId
	} else {
		out, err := p.c.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name),
			ClientRequestToken: aws.String(token), SecretString: str, SecretBinary: bin, VersionStages: []string{StagePending}})
		if err != nil {
			return providers.Stored{}, p.mapError("PutSecretValue", err)
		}
		vid = out.VersionId
	}
	versionID := aws.ToString(vid)
	if versionID == "" {
		versionID = token // AWS names a version after its request token
	}
	p.cache.put(name, versionID, v)
	return providers.Stored{ProviderVersionRef: versionID, Fingerprint: fp}, nil
}

// stages reads the secret's VersionIdsToStages; deleted reports a pending deletion.
func (p *Provider) stages(ctx context.Context, name string) (stages map[string][]string, deleted bool, err error) {
	out, err := p.c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return nil, false, p.mapError("DescribeSecret", err)
	}
	return out.VersionIdsToStages, out.DeletedDate != nil, nil
}

func currentOf(stages map[string][]string) string {
	for id, labels := range stages {
		if slices.Contains(labels, stageCurrent) {
			return id
		}
	}
	return ""
}

// Commit implements providers.Committer: AWSCURRENT moves to the version (unless a newer
// ledger version already holds it) and PAPERCLIP_PENDING is removed from it. A failure
// is returned and also queued for a background retry, so the caller only logs it.
func (p *Provider) Commit(ctx context.Context, ref providers.Ref, versionRef string) error {
	err := p.commit(ctx, ref, versionRef)
	if err == nil {
		p.commits.done(p.Name(ref), ref.Version)
		return nil
	}
	if code := ProviderCodeOf(err); code != "" && code != CodeScopeViolation {
		p.commits.add(ref, versionRef)
	}
	return err
}

func (p *Provider) commit(ctx context.Context, ref providers.Ref, versionRef string) error {
	name, err := p.target(ref)
	if err != nil {
		return err
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	stages, _, err := p.stages(ctx, name)
	if err != nil {
		return err
	}
	current := currentOf(stages)
	if current != versionRef {
		if cv, ok := tokenVersion(current); !ok || cv < ref.Version {
			in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(stageCurrent),
				MoveToVersionId: aws.String(versionRef)}
			if current != "" {
				in.RemoveFromVersionId = aws.String(current)
			}
			if _, err := p.c.sm.UpdateSecretVersionStage(ctx, in); err != nil {
				return p.mapError("UpdateSecretVersionStage", err)
			}
		}
	}
	if slices.Contains(stages[versionRef], StagePending) {
		return p.removePending(ctx, name, versionRef)
	}
	return nil
}

func (p *Provider) removePending(ctx context.Context, name, versionRef string) error {
	_, err := p.c.sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name),
		VersionStage: aws.String(StagePending), RemoveFromVersionId: aws.String(versionRef)})
	if err != nil {
		return p.mapError("UpdateSecretVersionStage", err)
	}
	return nil
}

// Discard implements providers.Provider. Version 1 deletes the secret Put created, at
// once (only when the version is among its versions: a same-named secret of another
// write is left alone); a later version loses PAPERCLIP_PENDING, leaving it archived
// and never current.
func (p *Provider) Discard(ctx context.Context, ref providers.Ref, versionRef string) error {
	name, err := p.target(ref)
	if err != nil {
		return err
	}
	p.cache.drop(name, versionRef)
	ctx, cancel := p.call(ctx)
	defer cancel()
	stages, _, err := p.stages(ctx, name)
	if ledgererr.CodeOf(err) == ledgererr.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	labels, ours := stages[versionRef]
	switch {
	case ref.Version == 1 && ours:
		return p.forceDelete(ctx, name)
	case ref.Version > 1 && slices.Contains(labels, StagePending):
		return p.removePending(ctx, name, versionRef)
	}
	return nil
}

func (p *Provider) forceDelete(ctx context.Context, name string) error {
	_, err := p.c.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name),
		ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil {
		return p.mapError("DeleteSecret", err)
	}
	return nil
}

// SoftDelete implements providers.SoftDeleter: DeleteSecret with the configured recovery
// window. A secret already scheduled for deletion counts as done.
func (p *Provider) SoftDelete(ctx context.Context, ref providers.Ref) error {
	name, err := p.target(ref)
	if err != nil {
		return err
	}
	p.cache.drop(name, "")
	ctx, cancel := p.call(ctx)
	defer cancel()
	_, err = p.c.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name),
		RecoveryWindowInDays: aws.Int64(int64(p.cfg.DeleteRecoveryDays))})
	if err == nil {
		return nil
	}
	mapped := p.mapError("DeleteSecret", err)
	if ledgererr.CodeOf(mapped) == ledgererr.Invalid {
		if _, deleted, derr := p.stages(ctx, name); derr == nil && deleted {
			return nil
		}
	}
	return mapped
}

// Restore implements providers.SoftDeleter: RestoreSecret cancels the scheduled deletion.
func (p *Provider) Restore(ctx context.Context, ref providers.Ref) error {
	name, err := p.target(ref)
	if err != nil {
		return err
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	if _, err := p.c.sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)}); err != nil {
		return p.mapError("RestoreSecret", err)
	}
	return nil
}

// Destroy implements providers.Provider: DeleteSecret without recovery. AWS accepts it on
// a secret already scheduled for deletion and on one that is already gone, so a
// repeated purge succeeds.
func (p *Provider) Destroy(ctx context.Context, ref providers.Ref) error {
	name, err := p.target(ref)
	if err != nil {
		return err
	}
	p.cache.drop(name, "")
	ctx, cancel := p.call(ctx)
	defer cancel()
	return p.forceDelete(ctx, name)
}

// CheckExternalRef is the guardrail of an external reference for this instance: a
// name or ARN inside its managed namespace (<prefix>/<deploymentId>/) is refused.
func (p *Provider) CheckExternalRef(externalRef string) error {
	return CheckExternal(externalRef, p.cfg.Prefix, p.cfg.DeploymentID)
}

// ExternalRefName returns the secret name an external reference denotes (RefName): the
// ledger compares references by it, so an ARN and the name of one secret are the same
// reference within a vault (one account and Region).
func (p *Provider) ExternalRefName(externalRef string) string { return RefName(externalRef) }

// Link implements providers.Provider: an external reference is metadata only (no AWS
// call); its fingerprint is the company's keyed fingerprint of the reference and version.
func (p *Provider) Link(_ context.Context, ref providers.Ref, externalRef, providerVersionRef string) (providers.Stored, error) {
	if err := p.CheckExternalRef(externalRef); err != nil {
		return providers.Stored{}, err
	}
	if len(providerVersionRef) > MaxVersionRefLength {
		return providers.Stored{}, ledgererr.New(ledgererr.Invalid, "providerVersionRef is longer than %d characters", MaxVersionRefLength)
	}
	fp := p.cfg.Fingerprint(ref.CompanyID, providers.NewValue([]byte("aws_secrets_manager_v1:"+externalRef+":"+providerVersionRef)))
	return providers.Stored{ProviderVersionRef: providerVersionRef, Fingerprint: fp}, nil
}

// Resolve implements providers.Provider: GetSecretValue of the exact VersionId, through
// the value cache. An external reference is read by its name or ARN (see resolveExternal).
func (p *Provider) Resolve(ctx context.Context, ref providers.Ref, versionRef string) (providers.Value, error) {
	if ref.ExternalRef != "" {
		ctx, cancel := p.call(ctx)
		defer cancel()
		return p.resolveExternal(ctx, ref.ExternalRef, versionRef)
	}
	name, err := p.target(ref)
	if err != nil {
		return providers.Value{}, err
	}
	if v, ok := p.cache.get(name, versionRef); ok {
		return v, nil
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	return p.get(ctx, name, versionRef)
}

// resolveExternal reads an external reference: GetSecretValue of the reference with its
// pinned VersionId, or of its AWSCURRENT version when it is not pinned. Only pinned
// versions are cached: AWSCURRENT of a secret the ledger does not own moves whenever
// its owner rotates it at AWS, and the next resolution must see that.
func (p *Provider) resolveExternal(ctx context.Context, externalRef, versionRef string) (providers.Value, error) {
	if err := p.CheckExternalRef(externalRef); err != nil {
		p.log.Warn("aws secrets manager guardrail refused an external reference read")
		return providers.Value{}, err
	}
	if versionRef != "" {
		if v, ok := p.cache.get(externalRef, versionRef); ok {
			return v, nil
		}
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(externalRef)}
	if versionRef != "" {
		in.VersionId = aws.String(versionRef)
	}
	out, err := p.c.sm.GetSecretValue(ctx, in)
	if err != nil {
		return providers.Value{}, p.mapError("GetSecretValue", err)
	}
	v := valueOutput(out.SecretString, out.SecretBinary)
	if versionRef != "" {
		p.cache.put(externalRef, versionRef, v)
	}
	return v, nil
}

func (p *Provider) get(ctx context.Context, name, versionRef string) (providers.Value, error) {
	if versionRef == "" {
		return providers.Value{}, ledgererr.New(ledgererr.NotFound, "the version has no AWS version id")
	}
	out, err := p.c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(versionRef)})
	if err != nil {
		return providers.Value{}, p.mapError("GetSecretValue", err)
	}
	v := valueOutput(out.SecretString, out.SecretBinary)
	p.cache.put(name, versionRef, v)
	return v, nil
}

// ResolveMany implements providers.BatchResolver. Cached values answer first; the rest
// go to BatchGetSecretValue, 20 secrets a call. That call returns each secret's
// AWSCURRENT version only, so a request for another version (a pinned older one) is
// answered by GetSecretValue of its VersionId, as is every request when the batch call
// is denied (the seed's minimum IAM policy has no BatchGetSecretValue). External
// references are read one by one (resolveExternal).
func (p *Provider) ResolveMany(ctx context.Context, companyID string, reqs []providers.VersionRequest) []providers.Resolved {
	out := make([]providers.Resolved, len(reqs))
	todo := map[string][]int{} // name → indexes still unanswered
	var order []string
	var external []int
	for i, r := range reqs {
		if r.Ref.CompanyID != companyID {
			out[i].Err = ledgererr.New(ledgererr.Forbidden, "the request names another company's secret")
			continue
		}
		if r.Ref.ExternalRef != "" {
			external = append(external, i)
			continue
		}
		name, err := p.target(r.Ref)
		if err != nil {
			out[i].Err = err
			continue
		}
		if v, ok := p.cache.get(name, r.ProviderVersionRef); ok {
			out[i].Value = v
			continue
		}
		if _, seen := todo[name]; !seen {
			order = append(order, name)
		}
		todo[name] = append(todo[name], i)
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	for _, i := range external {
		out[i].Value, out[i].Err = p.resolveExternal(ctx, reqs[i].Ref.ExternalRef, reqs[i].ProviderVersionRef)
	}
	if len(todo) > 1 { // one secret is one GetSecretValue either way
		for chunk := range slices.Chunk(order, batchLimit) {
			p.batch(ctx, chunk, reqs, todo, out)
		}
	}
	for _, name := range order {
		for _, i := range todo[name] {
			out[i].Value, out[i].Err = p.get(ctx, name, reqs[i].ProviderVersionRef)
		}
	}
	return out
}

// batch answers what it can of chunk with one BatchGetSecretValue and removes the
// answered indexes from todo; what stays is read one by one.
func (p *Provider) batch(ctx context.Context, chunk []string, reqs []providers.VersionRequest, todo map[string][]int, out []providers.Resolved) {
	res, err := p.c.sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: chunk})
	if err != nil {
		mapped := p.mapError("BatchGetSecretValue", err)
		if ledgererr.CodeOf(mapped) == ledgererr.Forbidden {
			return // fall back to GetSecretValue, which the minimum policy grants
		}
		for _, name := range chunk {
			for _, i := range todo[name] {
				out[i].Err = mapped
			}
			delete(todo, name)
		}
		return
	}
	byName := map[string]string{} // the ARN or name AWS answered with → our name
	for _, name := range chunk {
		byName[name] = name
	}
	resolve := func(id string) (string, bool) {
		if n, ok := byName[id]; ok {
			return n, true
		}
		for _, name := range chunk { // an ARN: <arn prefix><name>-XXXXXX
			stripped := arnPrefix.ReplaceAllString(id, "")
			if stripped == name || (strings.HasPrefix(stripped, name+"-") && arnSuffix.MatchString(stripped[len(name)+1:])) {
				return name, true
			}
		}
		return "", false
	}
	for _, sv := range res.SecretValues {
		name, ok := resolve(aws.ToString(sv.Name))
		if !ok {
			name, ok = resolve(aws.ToString(sv.ARN))
		}
		if !ok {
			continue
		}
		vid := aws.ToString(sv.VersionId)
		v := valueOutput(sv.SecretString, sv.SecretBinary)
		rest := todo[name][:0]
		for _, i := range todo[name] {
			if reqs[i].ProviderVersionRef == vid {
				out[i].Value = v
				p.cache.put(name, vid, v)
			} else {
				rest = append(rest, i)
			}
		}
		todo[name] = rest
	}
	for _, e := range res.Errors {
		name, ok := resolve(aws.ToString(e.SecretId))
		if !ok {
			continue
		}
		mapped := p.mapCode("BatchGetSecretValue", aws.ToString(e.ErrorCode))
		for _, i := range todo[name] {
			out[i].Err = mapped
		}
		delete(todo, name)
	}
}
