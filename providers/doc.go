// Package providers will define the interface to secret material stores and hold its
// implementations: local_encrypted (localenc/) and aws_secrets_manager (awssm/).
// Providers know nothing of events.
//
// Nothing is implemented yet.
package providers
