// Package providers holds what is common to the stores of secret material: Value, the
// redacted in-memory type of a secret value, and (issue 3, next) the provider interface
// with its implementations local_encrypted (localenc/) and aws_secrets_manager (awssm/).
// Providers know nothing of events.
package providers
