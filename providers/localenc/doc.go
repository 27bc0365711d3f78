// Package localenc is the cryptography of the local_encrypted provider:
// the master key and where it comes from, envelope encryption (a per-secret AES-256-GCM
// data key wrapped by the master key; company, secret and version in the AAD so that
// ciphertext cannot be moved between secrets or versions), HMAC fingerprints keyed per
// company, the key check that keeps a process with another master key from starting on
// the database, and rekeying: rewrapping the data keys under a new master key, and
// re-encryption under fresh data keys after a master key leak.
//
// It uses the standard library's crypto only, providers for Value, and pgx for its
// tables (local_secret_keys, local_secret_values, local_encrypted_key_check). It knows
// nothing of events.
//
// Imports: eventstore/ledgererr, providers.
//
// Third-party: pgx, ulid.
package localenc
