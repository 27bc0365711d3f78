package providers

import (
	"context"
)

// Provider IDs. GCPSecretManager and HashiCorpVault are coming soon: listed, and a
// vault may name them as a draft, but no instance of them exists.
// WARNING: persisted in events and read models.
const (
	LocalEncrypted    = "local_encrypted"
	AWSSecretsManager = "aws_secrets_manager"
	GCPSecretManager  = "gcp_secret_manager"
	HashiCorpVault    = "vault"
)

// Descriptor tells clients what a provider can do.
type Descriptor struct {
	ID                         string
	Label                      string
	SupportsManagedValues      bool
	SupportsExternalReferences bool
	Configured                 bool
	// ComingSoon marks a provider that is listed but cannot hold or resolve anything
	// yet (see ComingSoon).
	ComingSoon bool
}

// ComingSoon describes the providers that are listed, as in the seeds' system, but not
// implemented: not configured, supporting nothing. Clients reading the providers list
// see every provider a vault may name.
func ComingSoon() []Descriptor {
	return []Descriptor{
		{ID: GCPSecretManager, Label: "GCP Secret Manager", ComingSoon: true},
		{ID: HashiCorpVault, Label: "HashiCorp Vault", ComingSoon: true},
	}
}

// Health is a provider's self-check. Findings say why a provider does not work in
// words any operator of a company that uses it may read; Details describe the instance
// (key files and fingerprints, endpoints, name prefixes, deployment ids, credential
// sources) and are shown only to operators of the whole instance.
type Health struct {
	Provider string
	OK       bool
	Findings []string
	Details  []string
}

// All is Findings then Details: the whole answer, for operators of the instance.
func (h Health) All() []string {
	return append(append([]string{}, h.Findings...), h.Details...)
}

// Ref names one version of one secret at a provider.
type Ref struct {
	CompanyID string
	SecretID  string
	Version   int
	// Key is the secret's key, for providers that name secrets after it (AWS:
	// <prefix>/<deploymentId>/<companyId>/<key>); empty for consumer env values.
	Key string
	// ExternalRef is the version's external reference (an AWS secret name or ARN) when
	// the secret is an external_reference: the provider reads that secret instead of
	// deriving a managed name from Key.
	ExternalRef string
	// Previous is the provider version reference of the version a rotation follows
	// (the secret's latest before it); empty at creation. A provider that writes with
	// check-and-set (vault) expects it at the provider.
	Previous string
}

// Stored is what a provider kept for a version: a reference the ledger records in its
// events (never the material) and a keyed fingerprint of the value, when it saw one.
type Stored struct {
	ProviderVersionRef string
	Fingerprint        string
}

// Provider stores secret material. Writes happen before the ledger appends the event
// that refers to them; when that append fails, the ledger calls Discard so no live
// orphan remains.
type Provider interface {
	Descriptor() Descriptor
	// Put stores v as version ref.Version of a managed secret: version 1 creates the
	// secret, a later version is staged so that nothing reading the provider directly
	// sees it before the ledger has committed it (see Committer).
	Put(ctx context.Context, ref Ref, v Value) (Stored, error)
	// Link records an external reference (no value is read or stored).
	Link(ctx context.Context, ref Ref, externalRef, providerVersionRef string) (Stored, error)
	// Resolve returns the value stored under providerVersionRef.
	Resolve(ctx context.Context, ref Ref, providerVersionRef string) (Value, error)
	// Discard removes a write whose append failed.
	Discard(ctx context.Context, ref Ref, providerVersionRef string) error
	// Destroy makes every version of a secret unrecoverable (purge); ref.Version is
	// not used.
	Destroy(ctx context.Context, ref Ref) error
	Health(ctx context.Context) Health
}

// Committer is implemented by providers that stage a new version until the ledger has
// committed it: Commit makes it the provider's current version. It runs after the
// append; a failure must not undo the committed rotation (resolution always names the
// exact version), so the provider retries it later by itself.
type Committer interface {
	Commit(ctx context.Context, ref Ref, providerVersionRef string) error
}

// Stager is implemented by providers whose storage is the ledger's own database: the
// write of a version can commit in the transaction of the append that records it.
// Stage encrypts v as ref and returns the write without performing it; the ledger runs
// it in the append's transaction, so a refused or replayed append leaves nothing
// behind and the write costs no round trip of its own.
type Stager interface {
	Stage(ctx context.Context, ref Ref, v Value) (Stored, StagedWrite, error)
}

// StagedWrite is a write a Stager prepared: SQL, run with Args, returns one row with
// the number of values it stored, which must be 1.
type StagedWrite struct {
	SQL  string
	Args []any
	// Committed, when set, is told once the append committed (the provider may then
	// cache what it wrote).
	Committed func()
}

// SoftDeleter is implemented by providers that keep their own recovery window: the
// ledger's soft delete and restore are mirrored there (AWS: DeleteSecret with a
// recovery window, RestoreSecret).
type SoftDeleter interface {
	SoftDelete(ctx context.Context, ref Ref) error
	Restore(ctx context.Context, ref Ref) error
}

// VersionRequest asks a provider for one stored version.
type VersionRequest struct {
	Ref                Ref
	ProviderVersionRef string
}

// Resolved is the answer to one VersionRequest.
type Resolved struct {
	Value Value
	Err   error
}

// BatchResolver is implemented by providers that read several values in one call;
// resolution uses it when it can, and Resolve one by one otherwise.
type BatchResolver interface {
	ResolveMany(ctx context.Context, companyID string, reqs []VersionRequest) []Resolved
}
