// Package vaultkv is the vault provider: secret material lives in a HashiCorp Vault or
// OpenBao KV version 2 secrets engine under
// <mount>/data/<prefix>/<deploymentId>/<companyId>/<secretKey> as {"value": "<plaintext>"},
// and the ledger records only the KV version of each version of a secret and a keyed
// fingerprint of its value.
//
// Every write is a check-and-set on the KV version the ledger expects, so a writer at
// Vault that the ledger did not see is a conflict, never a lost update. Resolution names
// the exact KV version; the latest version of an external reference is read each time,
// pinned versions are cached. Soft delete, undelete and destroy mirror the ledger's
// delete, restore and purge. External references name KV paths outside every managed
// path, and remote import lists metadata (never data) under the prefixes approved for
// the company.
//
// Credentials come from the deployment, never from a vault's configuration: a token (or
// token file), AppRole, or Kubernetes auth, renewed and logged in again before they
// expire. Vault errors are mapped at this edge to ledgererr codes with fixed safe
// messages that hold no token, address or path with credentials. The in-process fake of
// the KV v2 API the tests run against is vaultfake/.
//
// Imports: eventstore/ledgererr, providers, providers/ttlcache.
//
// Third-party: vault-api.
package vaultkv
