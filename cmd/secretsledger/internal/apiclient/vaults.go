package apiclient

import (
	"context"
	"net/url"
)

// ListVaults reads a page of a company's provider vaults.
func (c *Client) ListVaults(ctx context.Context, company string, q url.Values) (Page[Vault], *Answer, error) {
	return callOp[Page[Vault]](ctx, c, opListVaults, q, nil, nil, company)
}

// CreateVault creates a provider vault.
func (c *Client) CreateVault(ctx context.Context, company string, in CreateVault, opts ...Option) (Vault, *Answer, error) {
	return callOp[Vault](ctx, c, opCreateVault, nil, in, opts, company)
}

// UpdateVault changes a vault's name, provider or config.
func (c *Client) UpdateVault(ctx context.Context, id string, in UpdateVault, opts ...Option) (Vault, *Answer, error) {
	return callOp[Vault](ctx, c, opUpdateVault, nil, in, opts, id)
}

// DisableVault disables a vault.
func (c *Client) DisableVault(ctx context.Context, id string, opts ...Option) (Vault, *Answer, error) {
	return callOp[Vault](ctx, c, opDisableVault, nil, nil, opts, id)
}

// SetDefaultVault makes a vault its provider's default for the company.
func (c *Client) SetDefaultVault(ctx context.Context, id string, opts ...Option) (Vault, *Answer, error) {
	return callOp[Vault](ctx, c, opSetDefaultVault, nil, nil, opts, id)
}

// CheckVaultHealth checks a vault and records the result.
func (c *Client) CheckVaultHealth(ctx context.Context, id string, opts ...Option) (Vault, *Answer, error) {
	return callOp[Vault](ctx, c, opCheckVaultHealth, nil, nil, opts, id)
}
