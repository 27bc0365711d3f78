package vaultkv

import (
	"context"

	"github.com/secretsledger/secretsledger/providers"
)

// Health implements providers.Provider.
func (p *Provider) Health(ctx context.Context) providers.Health {
	return providers.Health{Provider: providers.HashiCorpVault, Findings: []string{"not built"}}
}
