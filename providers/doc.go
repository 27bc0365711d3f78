// Package providers holds what is common to the stores of secret material: Value, the
// redacted in-memory type of a secret value, and the Provider interface that local_encrypted
// (localenc/) implements. Providers know nothing of events.
//
// Imports: nothing of ours.
//
// Third-party: none.
package providers
