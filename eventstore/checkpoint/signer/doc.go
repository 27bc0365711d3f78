// Package signer runs the checkpoint signer of a ledger process: it signs the log's head
// every so many events or seconds, stores the checkpoint in ledger_checkpoints, and
// hands it to publishers outside the database (NATS, an export file). Transports are
// injected as functions.
//
// Imports: eventstore, eventstore/checkpoint.
//
// Third-party: none.
package signer
