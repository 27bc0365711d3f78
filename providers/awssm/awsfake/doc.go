// Package awsfake is an in-process fake of the AWS Secrets Manager API for tests: an
// httptest server speaking the JSON 1.1 protocol (X-Amz-Target: secretsmanager.<Op>),
// so that the real SDK — signing, retries, error decoding — runs against it through a
// BaseEndpoint. It behaves as AWS documents for the calls the provider uses
// (CreateSecret, PutSecretValue, GetSecretValue, BatchGetSecretValue, DescribeSecret,
// UpdateSecretVersionStage, DeleteSecret, RestoreSecret): VersionId is the request
// token, staging labels move as AWS moves them, a secret scheduled for deletion cannot be
// read. It counts calls per operation and injects faults (an error code, a 5xx, a slow
// answer) for the next N calls of an operation.
//
// The binary never links it. It uses the standard library only.
//
// Imports: nothing of ours.
//
// Third-party: none.
//
// Imported by: tests only.
package awsfake
