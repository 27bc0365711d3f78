// Package providertest is the contract every secret provider keeps, as one test suite
// run against each implementation (local_encrypted with a real PostgreSQL,
// aws_secrets_manager and vault against their fakes): put and resolve round trip,
// versions independent, discard, destroy, fingerprints keyed per company, no value in any error,
// sane descriptor and health. It uses the standard library only.
//
// Imports: providers.
//
// Third-party: none.
//
// Imported by: tests only.
package providertest
