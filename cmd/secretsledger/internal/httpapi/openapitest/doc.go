// Package openapitest holds the API's tests to its OpenAPI document (docs/openapi.yaml):
// a Checker validates one exchange, request and answer, with kin-openapi. The in-process
// API tests of httpapi and the end-to-end tests of cmd/secretsledger both use it, so it
// is a package of its own. It uses kin-openapi, and never imports httpapi (whose own
// tests import it).
//
// Imports: docs.
//
// Third-party: kin-openapi.
//
// Imported by: tests only.
package openapitest
