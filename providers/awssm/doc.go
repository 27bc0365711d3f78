// Package awssm is the aws_secrets_manager provider: secret material lives in AWS Secrets
// Manager under <prefix>/<deploymentId>/<companyId>/<secretKey>, and the ledger records
// only the AWS VersionId of each version and a keyed fingerprint of its value.
//
// Writes are staged so that nothing at AWS changes before the ledger has committed: a
// rotation's PutSecretValue carries only the PAPERCLIP_PENDING label, and Commit moves
// AWSCURRENT once the ledger's event is appended (retried in the background when it
// fails). Resolution always names the exact VersionId, so AWSCURRENT is for readers that
// go to AWS directly. Every write passes a scope guardrail first: a target outside the
// derived deployment/company namespace is refused without any AWS call.
//
// It uses aws-sdk-go-v2 (the default credential chain, SigV4, the standard retryer) with
// one client per region and endpoint, shared by every Provider. AWS errors are mapped at
// this edge to ledgererr codes with fixed safe messages; the raw AWS error goes only to
// the injected logger. It never imports events or the ledger. The in-process fake of
// the Secrets Manager API the tests run against is awsfake/.
//
// Imports: eventstore/ledgererr, providers, providers/ttlcache.
//
// Third-party: aws-sdk.
package awssm
