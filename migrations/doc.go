// Package migrations holds the database schema as numbered, forward-only SQL files
// (NNNN_name.sql, embedded with embed.FS) and the runner that applies them.
//
// Applied files are recorded in schema_migrations with a SHA-256 checksum; a file whose
// checksum changed after it was applied is an error, never silently re-run. Concurrent
// runners (several ledger processes starting at once) are serialized with a session-level
// advisory lock. GrantRuntime gives the server's runtime role exactly the privileges it
// needs on the schema's tables (INSERT and SELECT only on ledger_events); it runs after
// every migration run and on every start.
//
// Imports: eventstore/ledgererr.
//
// Third-party: pgx.
package migrations
