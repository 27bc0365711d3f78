// Package integritykey loads the instance's integrity key (LEDGER_INTEGRITY_KEY_FILE),
// which the event store MACs events with and board tokens are hashed with: serve
// creates it on first start, operator commands only read it. It may import the
// ledger's eventstore/integrity and, under cmd/secretsledger, config and usage.
//
// Imports: cmd/secretsledger/internal/config, cmd/secretsledger/internal/usage,
// eventstore/integrity.
//
// Third-party: none.
package integritykey
