package awssm

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

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
