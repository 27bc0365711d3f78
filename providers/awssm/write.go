package awssm

import (
	"context"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

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

// valueInput stores UTF-8 values as SecretString (what AWS consoles and SDK readers
// expect) and anything else as SecretBinary.
func valueInput(v providers.Value) (*string, []byte) {
	if utf8.Valid(v.Reveal()) {
		return aws.String(string(v.Reveal())), nil
	}
	return nil, v.Reveal()
}
