// Package vaultfake is an in-process fake of the HashiCorp Vault / OpenBao HTTP API for
// tests: an httptest server answering /v1/... as Vault documents it, so that the real
// client library (github.com/hashicorp/vault/api) runs against it unchanged — request
// building, namespaces, retries and error decoding included.
//
// It implements what the vault provider uses, with Vault's response shapes and
// semantics: KV version 2 mounts (versions, check-and-set, cas_required, max_versions,
// delete_version_after, soft delete, undelete, destroy, metadata and custom metadata,
// merge-patch, LIST) and KV version 1 mounts; namespaces (the X-Vault-Namespace header
// and the path-prefix form); tokens with policies checked on every path with Vault's
// ACL rules (exact, "*" prefix globs, "+" segments, the most specific rule wins, deny
// wins); token lookup, renewal up to a maximum TTL and revocation; AppRole and
// Kubernetes logins; sys/health with its status codes and query parameters, a sealed
// or standby server; sys/capabilities-self; sys/internal/ui/mounts. It counts calls per
// operation and injects faults (a status, a slow answer) for the next N calls of an
// operation.
//
// The binary never links it. It uses the standard library only.
//
// Imports: nothing of ours.
//
// Third-party: none.
//
// Imported by: tests only.
package vaultfake
