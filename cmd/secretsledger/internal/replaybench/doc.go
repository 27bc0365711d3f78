// Package replaybench is `secretsledger bench --replay N`: it appends N synthetic events
// of one company (a realistic mix of secrets, bindings, agent keys, access records and
// rotations) to a scratch database, then times a full rebuild of every read model, a
// verify of the hash chain and the incident responder's audit queries on that log, and
// reads the process's peak RSS during the rebuild. The scratch database is created next
// to the instance's and dropped afterwards; its events are authenticated with a key of
// its own. Only cmd/secretsledger imports it; it prints nothing but its progress lines.
//
// Imports: cmd/secretsledger/internal/progress, eventstore, eventstore/actor,
// eventstore/events, eventstore/integrity, migrations, projections, queries/audit.
//
// Third-party: pgx.
package replaybench
