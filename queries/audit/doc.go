// Package audit answers the incident responder's questions from the event log itself:
// who was bound to a secret and who actually read it, what a consumer could read, what
// a company looked like as of a time or position, and a verifiable timeline export.
//
// Every answer is folded from ledger_events, never from the read models, so a deleted
// or purged secret's history is answered in full, and a rebuild of the read models
// changes no answer. Each answer reads up to one log position (the head when it
// started) and says which: because appends commit in position order, everything at or
// below that position is a consistent cut of the log.
//
// It uses pgx; never commands or projections.
//
// Imports: eventstore, eventstore/actor, eventstore/checkpoint, eventstore/events,
// eventstore/ledgererr, eventstore/pgfault.
//
// Third-party: pgx.
package audit
