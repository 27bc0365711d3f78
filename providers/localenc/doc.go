// Package localenc is the cryptography of the local_encrypted provider (DESIGN.md §5):
// the master key and where it comes from, envelope encryption (a per-secret AES-256-GCM
// data key wrapped by the master key; company, secret and version in the AAD so that
// ciphertext cannot be moved between secrets or versions), and HMAC fingerprints.
//
// It uses the standard library's crypto only and imports providers (for Value). It knows
// nothing of events or storage: where wrapped keys and ciphertext live is the
// provider's business.
package localenc
