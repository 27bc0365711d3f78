package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// ManagedNamespaces lists the secret-name namespaces the ledger manages on this
// instance, each ending in "/": the deployment's "<prefix>/<deploymentId>/" and every
// AWS vault's "<prefix>/<namespace>/", of every company, disabled vaults included; with
// a Vault session, the managed roots "[<ns>/]<mount>/<prefix>/<id>/" of the deployment
// and of every vault vault (the name vault references are compared by). The ledger's
// wiring implements it over the vaults read model.
type ManagedNamespaces interface {
	ManagedNamespaces(ctx context.Context) ([]string, error)
}

// ManagedMarks is implemented by provider instances that can tell whether a remote
// secret carries the ledger's managed mark (AWS: the paperclip:managed-by tag, read
// with DescribeSecret, never a value, and cached briefly).
type ManagedMarks interface {
	ManagedByLedger(ctx context.Context, externalRef string) (bool, error)
}

// errManagedRef refuses a reference under a managed namespace of the instance.
var errManagedRef = ledgererr.Wrap(&providers.GuardrailError{Reason: "managed namespace"}, ledgererr.Invalid,
	"the reference is under a namespace this ledger manages (the deployment's or a provider vault's, of any company): "+
		"a managed secret is never an external reference")

// errManagedTag refuses a reference to a secret tagged as managed by the ledger.
var errManagedTag = ledgererr.Wrap(&providers.GuardrailError{Reason: "managed tag"}, ledgererr.Invalid,
	"the referenced secret is marked paperclip:managed-by (an AWS tag, or Vault custom metadata): a managed secret is never an external reference")

// externalRefGuard checks the external references of one command or resolution. It
// reads the instance's managed namespaces once, on first use.
type externalRefGuard struct {
	managed    ManagedNamespaces
	namespaces []string
	loaded     bool
}

// guard returns a guard for one command or resolution.
func (x externalRefs) guard() *externalRefGuard { return &externalRefGuard{managed: x.managed} }

// check is the guardrail an external reference passes when it is linked (create,
// remote import) and again at every resolution, whoever links it: the provider's own
// checks (a well-formed reference outside its own namespace), then no managed namespace
// of the instance (the deployment's or any company's vault's), then no managed-by mark
// at the provider (AWS: DescribeSecret tags). A refusal is 422 with provider code
// provider_guardrail; a mark that cannot be read refuses too, with the provider's error
// (a resolution must not release what the ledger cannot show is not its own).
// Providers that link no external references pass.
func (g *externalRefGuard) check(ctx context.Context, p providers.Provider, externalRef string) error {
	inner := unwrapProvider(p)
	refs, ok := inner.(ExternalRefs)
	if !ok {
		return nil
	}
	if err := refs.CheckExternalRef(externalRef); err != nil {
		return err
	}
	if err := g.loadNamespaces(ctx); err != nil {
		return err
	}
	if g.inManagedNamespace(refs.ExternalRefName(externalRef)) {
		return errManagedRef
	}
	if m, ok := inner.(ManagedMarks); ok {
		managed, err := m.ManagedByLedger(ctx, externalRef)
		if err != nil {
			return ledgererr.Wrap(err, ledgererr.CodeOf(err),
				"the guardrail could not read the referenced secret's tags, so it is refused: %s", ledgererr.MessageOf(err))
		}
		if managed {
			return errManagedTag
		}
	}
	return nil
}

// inManagedNamespace reports whether a secret name lies under one of the managed
// namespaces loadNamespaces read.
func (g *externalRefGuard) inManagedNamespace(name string) bool {
	return UnderNamespace(name, g.namespaces)
}

// UnderNamespace reports whether a secret name (a leading "/" ignored) lies under one of
// namespaces (ManagedNamespaces' answer).
func UnderNamespace(name string, namespaces []string) bool {
	name = strings.TrimPrefix(name, "/")
	for _, ns := range namespaces {
		if strings.HasPrefix(name, ns) {
			return true
		}
	}
	return false
}

// loadNamespaces reads the instance's managed namespaces, once.
func (g *externalRefGuard) loadNamespaces(ctx context.Context) error {
	if g.managed == nil || g.loaded {
		return nil
	}
	namespaces, err := g.managed.ManagedNamespaces(ctx)
	if err != nil {
		return err
	}
	g.namespaces, g.loaded = namespaces, true
	return nil
}
