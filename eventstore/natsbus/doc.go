// Package natsbus fans the event log out over NATS JetStream: an embedded nats-server
// (or an existing deployment via NATS_URL), the LEDGER stream, the relay that publishes
// every committed event in log order, and per-company subscribers: the ledger creates
// each subscriber's pull consumer (ConsumerAdmin) and signs it a user JWT (Authority),
// and a subscriber may only pull from that consumer into its own inbox (Follow).
//
// Authentication is decentralized (operator and account JWTs) in both modes: the
// embedded server is set up by EnsureInstanceAuth, an external one by its operator.
//
// NATS carries notifications, not truth: the relay reads the log and
// resumes from its own cursor, JetStream drops duplicates by event id, and losing NATS
// loses no data. It uses pgx and the NATS packages (server, client, jwt, nkeys);
// nothing above the event store.
//
// Imports: eventstore, eventstore/events, eventstore/lease.
//
// Third-party: nats, pgx.
package natsbus
