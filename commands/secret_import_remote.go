package commands

import (
	"context"
	"slices"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// RemoteProviders are the providers a remote import reads, in the order the deployment's
// default remote instance is chosen.
var RemoteProviders = []string{providers.AWSSecretsManager, providers.HashiCorpVault}

// PrefixedInventory is implemented by provider instances that list only under given
// prefixes (vault: a recursive LIST of metadata under each, paged and bounded), so that
// a preview reads no inventory the company may not see. A prefix is in the provider's
// ExternalRefName form; AnyExternalRef is the whole inventory.
type PrefixedInventory interface {
	ListUnder(ctx context.Context, prefixes, exclude []string, query, nextToken string, pageSize int) (providers.RemotePage, error)
}

// remotePlacement is the vault a remote import reads: the company's vault vaultID when
// given, which must be of a remote provider, else the deployment's remote instance.
func (h *Importer) remotePlacement(ctx context.Context, a actor.Actor, companyID, vaultID string) (Placement, error) {
	if vaultID != "" {
		at, err := h.storage.place(ctx, a, companyID, "", vaultID)
		if err == nil && !slices.Contains(RemoteProviders, at.ProviderID) {
			err = ledgererr.New(ledgererr.Invalid, "the provider vault is a %s vault: remote import reads aws_secrets_manager and vault vaults",
				at.ProviderID)
		}
		return at, err
	}
	for _, id := range RemoteProviders {
		if p, ok := h.storage.instances[id]; ok {
			return Placement{ProviderID: id, Provider: p}, nil
		}
	}
	return Placement{}, ledgererr.New(ledgererr.Invalid,
		"remote import needs providerConfigId (an aws_secrets_manager or vault vault): this deployment has no aws_secrets_manager instance and no vault instance")
}

// listPage reads one page of the target's inventory: under the prefixes approved for
// the company (its policy's and the instance's of the provider, AnyExternalRef passing
// through) when the provider lists by prefix, else the whole inventory (filtered after).
// A listing by prefix goes into no managed namespace of the instance: the page's cursor
// would otherwise name another company's managed paths.
func (h *Importer) listPage(ctx context.Context, t importTarget, p ImportPreview) (providers.RemotePage, error) {
	if t.under == nil {
		return t.inv.List(ctx, p.Query, p.NextToken, p.PageSize)
	}
	if err := t.guard.loadNamespaces(ctx); err != nil {
		return providers.RemotePage{}, err
	}
	instance := h.ext.instance(t.at.ProviderID)
	prefixes := make([]string, 0, len(instance)+len(t.policy.policy.Prefixes))
	prefixes = append(append(prefixes, instance...), t.policy.policy.Prefixes...)
	return t.under.ListUnder(ctx, prefixes, t.guard.namespaces, p.Query, p.NextToken, p.PageSize)
}
