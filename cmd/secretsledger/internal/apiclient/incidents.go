package apiclient

import "context"

// FreezeCompany freezes a company: no resolution answers a value.
func (c *Client) FreezeCompany(ctx context.Context, company string, in FreezeRequest, opts ...Option) (Freeze, *Answer, error) {
	return callOp[Freeze](ctx, c, opFreezeCompany, nil, in, opts, company)
}

// GetCompanyFreeze reads a company's freeze.
func (c *Client) GetCompanyFreeze(ctx context.Context, company string) (Freeze, *Answer, error) {
	return callOp[Freeze](ctx, c, opGetCompanyFreeze, nil, nil, nil, company)
}

// UnfreezeCompany lifts a company's freeze.
func (c *Client) UnfreezeCompany(ctx context.Context, company string, in UnfreezeRequest, opts ...Option) (Freeze, *Answer, error) {
	return callOp[Freeze](ctx, c, opUnfreezeCompany, nil, in, opts, company)
}

// FreezeConsumer freezes one consumer.
func (c *Client) FreezeConsumer(ctx context.Context, company, targetType, targetID string, in FreezeRequest, opts ...Option) (Freeze, *Answer, error) {
	return callOp[Freeze](ctx, c, opFreezeConsumer, nil, in, opts, company, targetType, targetID)
}

// GetConsumerFreeze reads one consumer's freeze.
func (c *Client) GetConsumerFreeze(ctx context.Context, company, targetType, targetID string) (Freeze, *Answer, error) {
	return callOp[Freeze](ctx, c, opGetConsumerFreeze, nil, nil, nil, company, targetType, targetID)
}

// UnfreezeConsumer lifts one consumer's freeze.
func (c *Client) UnfreezeConsumer(ctx context.Context, company, targetType, targetID string, in UnfreezeRequest, opts ...Option) (Freeze, *Answer, error) {
	return callOp[Freeze](ctx, c, opUnfreezeConsumer, nil, in, opts, company, targetType, targetID)
}

// GetExternalPolicy reads a company's external-reference policy.
func (c *Client) GetExternalPolicy(ctx context.Context, company string) (ExternalPolicy, *Answer, error) {
	return callOp[ExternalPolicy](ctx, c, opGetExternalPolicy, nil, nil, nil, company)
}

// SetExternalPolicy replaces a company's external-reference policy.
func (c *Client) SetExternalPolicy(ctx context.Context, company string, in ExternalPolicyRequest, opts ...Option) (ExternalPolicy, *Answer, error) {
	return callOp[ExternalPolicy](ctx, c, opSetExternalPolicy, nil, in, opts, company)
}

// LeakScan scans a text for the company's secret values; the scan and its findings are
// recorded. The answer names secrets, versions, encodings and places, never a value.
func (c *Client) LeakScan(ctx context.Context, company string, in LeakScanRequest, opts ...Option) (LeakScan, *Answer, error) {
	return callOp[LeakScan](ctx, c, opLeakScan, nil, in, opts, company)
}
