// Package queries reads the read models for the API and the CLI. Every query is scoped
// by the caller's actor: a secret of a company the caller cannot see is "not found".
// Because projections run inside the append transaction, a query made after a command's
// response sees the command's effect (read-your-writes).
//
// It uses pgx; never commands or projections. Of providers it uses the Value type and
// the reference it decrypts a consumer's stored env values by (ValueReader).
//
// Imports: eventstore, eventstore/actor, eventstore/checkpoint, eventstore/events,
// eventstore/ledgererr, providers.
//
// Third-party: pgx.
package queries
