package apiclient

import (
	"context"
	"net/url"
)

// ListBindings reads a page of a company's bindings (q may narrow to one consumer).
func (c *Client) ListBindings(ctx context.Context, company string, q url.Values) (Page[Binding], *Answer, error) {
	return callOp[Page[Binding]](ctx, c, opListBindings, q, nil, nil, company)
}

// CreateBinding binds a secret to a consumer at a config path.
func (c *Client) CreateBinding(ctx context.Context, company string, in CreateBinding, opts ...Option) (Binding, *Answer, error) {
	return callOp[Binding](ctx, c, opCreateBinding, nil, in, opts, company)
}

// DeleteBinding removes a binding.
func (c *Client) DeleteBinding(ctx context.Context, id string, opts ...Option) (OK, *Answer, error) {
	return callOp[OK](ctx, c, opDeleteBinding, nil, nil, opts, id)
}

// GetConsumerEnv reads a consumer's env.
func (c *Client) GetConsumerEnv(ctx context.Context, company, targetType, targetID string) (Env, *Answer, error) {
	return callOp[Env](ctx, c, opGetConsumerEnv, nil, nil, nil, company, targetType, targetID)
}

// PutConsumerEnv replaces a consumer's whole env.
func (c *Client) PutConsumerEnv(ctx context.Context, company, targetType, targetID string, in PutEnv, opts ...Option) (Env, *Answer, error) {
	return callOp[Env](ctx, c, opPutConsumerEnv, nil, in, opts, company, targetType, targetID)
}

// ConsumerExposure reads what a consumer could read, and did.
func (c *Client) ConsumerExposure(ctx context.Context, company, targetType, targetID string, q url.Values) (ConsumerReach, *Answer, error) {
	return callOp[ConsumerReach](ctx, c, opConsumerExposure, q, nil, nil, company, targetType, targetID)
}

// ListAgentKeys reads a page of a company's agent keys (q may narrow to one consumer).
func (c *Client) ListAgentKeys(ctx context.Context, company string, q url.Values) (Page[AgentKeyInfo], *Answer, error) {
	return callOp[Page[AgentKeyInfo]](ctx, c, opListAgentKeys, q, nil, nil, company)
}

// IssueAgentKey issues an agent key; its token is in the answer only.
func (c *Client) IssueAgentKey(ctx context.Context, company string, in IssueAgentKey, opts ...Option) (AgentKey, *Answer, error) {
	return callOp[AgentKey](ctx, c, opIssueAgentKey, nil, in, opts, company)
}

// RevokeAgentKey revokes an agent key.
func (c *Client) RevokeAgentKey(ctx context.Context, id string, opts ...Option) (OK, *Answer, error) {
	return callOp[OK](ctx, c, opRevokeAgentKey, nil, nil, opts, id)
}

// RevokeConsumerAgentKeys revokes every agent key of a consumer.
func (c *Client) RevokeConsumerAgentKeys(ctx context.Context, company, targetType, targetID string, opts ...Option) (RevokedKeys, *Answer, error) {
	return callOp[RevokedKeys](ctx, c, opRevokeConsumerAgentKeys, nil, nil, opts, company, targetType, targetID)
}
