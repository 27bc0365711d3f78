package apiclient

import (
	"context"
	"net/http"
	"net/url"
)

// ListCompanies reads a page of the companies the credential may see.
func (c *Client) ListCompanies(ctx context.Context, q url.Values) (Page[Company], *Answer, error) {
	return callOp[Page[Company]](ctx, c, opListCompanies, q, nil, nil)
}

// LedgerState reads the log's head, checkpoint, verification and relay lag.
func (c *Client) LedgerState(ctx context.Context) (LedgerState, *Answer, error) {
	return callOp[LedgerState](ctx, c, opLedgerState, nil, nil, nil)
}

// ListCompanyEvents reads a page of a company's events (q "after": from a position).
func (c *Client) ListCompanyEvents(ctx context.Context, company string, q url.Values) (Page[EventEnvelope], *Answer, error) {
	return callOp[Page[EventEnvelope]](ctx, c, opListCompanyEvents, q, nil, nil, company)
}

// IssueEventSubscriber issues NATS credentials for the company's events.
func (c *Client) IssueEventSubscriber(ctx context.Context, company string, in IssueSubscriber, opts ...Option) (SubscriberCredentials, *Answer, error) {
	return callOp[SubscriberCredentials](ctx, c, opIssueEventSubscriber, nil, in, opts, company)
}

// AuditState reads a company's state at a time or position.
func (c *Client) AuditState(ctx context.Context, company string, q url.Values) (AuditState, *Answer, error) {
	return callOp[AuditState](ctx, c, opAuditState, q, nil, nil, company)
}

// AuditExport streams a company's audit export (JSON lines); the caller closes the
// answer's body.
func (c *Client) AuditExport(ctx context.Context, company string, q url.Values) (*http.Response, error) {
	return c.Stream(ctx, opAuditExport.method, Path(opAuditExport.path, company), q)
}

// callOp calls op with its path parameters in values.
func callOp[T any](ctx context.Context, c *Client, op operation, q url.Values, body any, opts []Option, values ...string) (T, *Answer, error) {
	return call[T](ctx, c, op.method, Path(op.path, values...), q, body, opts...)
}
