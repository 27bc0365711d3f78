package vaultkv

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Bounds of the managed-by check of external references.
const (
	// ManagedCheckTTL is the longest the answer of one ManagedByLedger metadata read is
	// kept (Config.CacheTTL when shorter; 0 keeps none): a managed-by key added at
	// Vault later stops the reference within about this long.
	ManagedCheckTTL = time.Minute
	// ManagedCheckCacheSize bounds the answers kept per provider instance (least
	// recently used first out).
	ManagedCheckCacheSize = 4096
)

// ErrManagedNamespace is the refusal of an external reference under the provider's
// managed root (<prefix>/<deploymentId>/): those secrets are the ledger's own and are
// resolved by their managed versions, never linked. It carries the provider code
// providers.CodeGuardrail.
var ErrManagedNamespace error = ledgererr.Wrap(&providers.GuardrailError{Reason: "managed namespace"}, ledgererr.Invalid,
	"Paperclip-managed Vault paths cannot be linked or imported as external references")

// ErrManagedSecret is the refusal of an external reference to a secret whose custom
// metadata says the ledger manages it (CustomManagedBy), wherever it lies.
var ErrManagedSecret error = ledgererr.Wrap(&providers.GuardrailError{Reason: "managed secret"}, ledgererr.Invalid,
	"secrets whose Vault custom metadata marks them as Paperclip-managed cannot be linked or imported as external references")

// CheckExternalRef is the guardrail of an external reference for this instance: a KV
// path inside the mount (as `vault kv get -mount=<mount> <path>` takes it) that is a
// well-formed path and not under the managed root. It makes no Vault call.
func (p *Provider) CheckExternalRef(externalRef string) error {
	if problem := CheckPath(externalRef, MaxPathLength); problem != "" {
		return invalid("externalRef (a KV path inside the mount) %s", problem)
	}
	if strings.HasPrefix(externalRef+"/", ManagedRoot(p.cfg.Prefix, p.cfg.DeploymentID)) {
		return ErrManagedNamespace
	}
	return nil
}

// ExternalRefName is the name the ledger compares external references and approved
// prefixes by: RefName(namespace, mount, path).
func (p *Provider) ExternalRefName(externalRef string) string {
	return RefName(p.cfg.Namespace, p.cfg.Mount, externalRef)
}

// Link implements providers.Provider: an external reference to a KV path, at its latest
// version ("") or pinned to a KV version. It reads the path's metadata only (never its
// data): the path must exist, a pinned version must exist and not be destroyed, and a
// secret the ledger manages is refused. The fingerprint is the company's keyed
// fingerprint of the reference's name and version.
func (p *Provider) Link(ctx context.Context, ref providers.Ref, externalRef, providerVersionRef string) (providers.Stored, error) {
	if err := p.CheckExternalRef(externalRef); err != nil {
		return providers.Stored{}, err
	}
	n := 0
	if providerVersionRef != "" {
		var ok bool
		if n, ok = parseVersion(providerVersionRef); !ok {
			return providers.Stored{}, invalid("providerVersionRef must be empty (the latest version) or a KV version number")
		}
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return providers.Stored{}, err
	}
	defer cancel()
	m, ok, err := p.readMetadata(ctx, c, externalRef)
	if err != nil {
		return providers.Stored{}, err
	}
	if !ok {
		return providers.Stored{}, notFound("metadata.read", "the KV path does not exist at Vault")
	}
	if m.managed() {
		return providers.Stored{}, ErrManagedSecret
	}
	if n > 0 {
		if vm, ok := m.version(n); !ok || vm.Destroyed {
			return providers.Stored{}, notFound("metadata.read", "the pinned KV version does not exist or is destroyed at Vault")
		}
	}
	name := p.ExternalRefName(externalRef)
	fp := p.cfg.Fingerprint(ref.CompanyID, providers.NewValue([]byte("vault_v1:"+name+":"+providerVersionRef)))
	return providers.Stored{ProviderVersionRef: providerVersionRef, Fingerprint: fp}, nil
}

// ManagedByLedger reports whether the secret an external reference names is the
// ledger's own: under the managed root, or carrying CustomManagedBy in its custom
// metadata (whatever its value: every secret the ledger writes carries it). The
// metadata is read (never the data) and the answer cached (ManagedCheckTTL). A path
// that does not exist is not managed; any other failure is the mapped Vault error, and
// the caller refuses the reference.
func (p *Provider) ManagedByLedger(ctx context.Context, externalRef string) (bool, error) {
	if err := p.CheckExternalRef(externalRef); err != nil {
		if errors.Is(err, ErrManagedNamespace) {
			return true, nil
		}
		return false, err
	}
	if managed, ok := p.managedChecks.Get(externalRef); ok {
		return managed, nil
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	m, ok, err := p.readMetadata(ctx, c, externalRef)
	if err != nil {
		return false, err
	}
	managed := ok && m.managed()
	p.managedChecks.Put(externalRef, managed)
	return managed, nil
}
