// Package boardtoken issues, checks and revokes board (operator) tokens. A token is
// shown once; only its hash keyed with the instance's integrity key is stored, so that
// someone who can write to the database cannot add a row that a token of their choosing
// matches (tokens are 256 random bits: the key is against forgery, not guessing). Tokens
// are written by the owner only: the runtime role may read board_tokens, never write it.
// Only cmd/secretsledger imports it. It uses pgx for its table.
//
// A serving process answers tokens it found live from a Cache instead of a query per
// request. Store.Watch reads a fingerprint of board_tokens every PollInterval and drops
// the cache when any row changed, so a revocation made by another process is refused
// within about PollInterval; a revocation through the Store holding the cache, at once.
// When the fingerprint was last read more than MaxStaleness ago the cache answers
// nothing: it fails closed to the query.
//
// Imports: eventstore/actor, eventstore/integrity, eventstore/ledgererr.
//
// Third-party: pgx, ulid.
package boardtoken
