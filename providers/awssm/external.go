package awssm

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

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
