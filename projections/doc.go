// Package projections folds the event log into the read models the API serves
// (company_secrets, company_secret_versions, bindings, consumer envs, agent keys, access
// events, event subscribers), one file per read model. They run inline, in the append's
// transaction (Inline), keep a checkpoint per projection, and Rebuilder folds the whole log
// into new tables beside the live ones and swaps them in, blocking appends only for the swap.
// Each projection dispatches through an events.Dispatch table that names every event type
// it handles or ignores, so a new type fails its exhaustiveness test until it decides.
//
// It uses pgx to write read models; never commands or queries.
//
// Imports: eventstore, eventstore/events, eventstore/ledgererr.
//
// Third-party: pgx.
package projections
