package apiclient

import (
	"context"
	"net/url"
)

// ListSecrets reads a page of a company's secrets.
func (c *Client) ListSecrets(ctx context.Context, company string, q url.Values) (Page[Secret], *Answer, error) {
	return callOp[Page[Secret]](ctx, c, opListSecrets, q, nil, nil, company)
}

// CreateSecret creates a secret.
func (c *Client) CreateSecret(ctx context.Context, company string, in CreateSecret, opts ...Option) (Secret, *Answer, error) {
	return callOp[Secret](ctx, c, opCreateSecret, nil, in, opts, company)
}

// GetSecret reads a secret (q "deleted=true": deleted and purged ones too).
func (c *Client) GetSecret(ctx context.Context, id string, q url.Values) (Secret, *Answer, error) {
	return callOp[Secret](ctx, c, opGetSecret, q, nil, nil, id)
}

// UpdateSecret changes a secret's name, key, description or status. Its answer is the
// secret, or OK alone when the status "deleted" soft-deleted an external reference (the
// Secret is then empty).
func (c *Client) UpdateSecret(ctx context.Context, id string, in UpdateSecret, opts ...Option) (Secret, *Answer, error) {
	return callOp[Secret](ctx, c, opUpdateSecret, nil, in, opts, id)
}

// RotateSecret adds a version.
func (c *Client) RotateSecret(ctx context.Context, id string, in RotateSecret, opts ...Option) (Secret, *Answer, error) {
	return callOp[Secret](ctx, c, opRotateSecret, nil, in, opts, id)
}

// DeleteSecret soft-deletes a secret.
func (c *Client) DeleteSecret(ctx context.Context, id string, opts ...Option) (OK, *Answer, error) {
	return callOp[OK](ctx, c, opDeleteSecret, nil, nil, opts, id)
}

// RestoreSecret undoes a soft delete.
func (c *Client) RestoreSecret(ctx context.Context, id string, opts ...Option) (Secret, *Answer, error) {
	return callOp[Secret](ctx, c, opRestoreSecret, nil, nil, opts, id)
}

// PurgeSecret destroys a deleted secret's values.
func (c *Client) PurgeSecret(ctx context.Context, id string, in PurgeSecret, opts ...Option) (OK, *Answer, error) {
	return callOp[OK](ctx, c, opPurgeSecret, nil, in, opts, id)
}

// ListSecretVersions reads a page of a secret's versions.
func (c *Client) ListSecretVersions(ctx context.Context, id string, q url.Values) (Page[SecretVersion], *Answer, error) {
	return callOp[Page[SecretVersion]](ctx, c, opListSecretVersions, q, nil, nil, id)
}

// ListSecretUsage reads a page of the bindings of a secret.
func (c *Client) ListSecretUsage(ctx context.Context, id string, q url.Values) (Page[Binding], *Answer, error) {
	return callOp[Page[Binding]](ctx, c, opListSecretUsage, q, nil, nil, id)
}

// ListSecretAccessEvents reads a page of a secret's resolutions.
func (c *Client) ListSecretAccessEvents(ctx context.Context, id string, q url.Values) (Page[AccessEvent], *Answer, error) {
	return callOp[Page[AccessEvent]](ctx, c, opListSecretAccessEvents, q, nil, nil, id)
}

// ListCompanyAccessEvents reads a page of a company's resolution attempts.
func (c *Client) ListCompanyAccessEvents(ctx context.Context, company string, q url.Values) (Page[AccessEvent], *Answer, error) {
	return callOp[Page[AccessEvent]](ctx, c, opListCompanyAccessEvents, q, nil, nil, company)
}

// ListProviders reads the providers a company may use.
func (c *Client) ListProviders(ctx context.Context, company string) (Page[Provider], *Answer, error) {
	return callOp[Page[Provider]](ctx, c, opListProviders, nil, nil, nil, company)
}

// PreviewRemoteImport reads a page of a remote provider's secrets and what an import
// would make of each.
func (c *Client) PreviewRemoteImport(ctx context.Context, company string, in RemoteImportPreviewRequest) (RemoteImportPreview, *Answer, error) {
	return callOp[RemoteImportPreview](ctx, c, opPreviewRemoteImport, nil, in, nil, company)
}

// RemoteImport links remote secrets as external references.
func (c *Client) RemoteImport(ctx context.Context, company string, in RemoteImportRequest, opts ...Option) (RemoteImportResult, *Answer, error) {
	return callOp[RemoteImportResult](ctx, c, opRemoteImport, nil, in, opts, company)
}

// SecretExposure reads who could read a secret, and who did.
func (c *Client) SecretExposure(ctx context.Context, id string, q url.Values) (SecretExposure, *Answer, error) {
	return callOp[SecretExposure](ctx, c, opSecretExposure, q, nil, nil, id)
}
