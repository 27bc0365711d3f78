// Package checkpoint signs the head of the event log: a checkpoint is (position, hash,
// recorded_at, instance id) signed with the instance's ed25519 key, kept apart from the
// database. Someone who can write to the database but lacks the key cannot forge a
// history that passes through every checkpoint, nor hide a truncation behind the newest
// one. It holds the format, signing and verification, the key file, and the JSON line
// form used for NATS and export files. It uses the standard library only.
//
// Imports: nothing of ours.
//
// Third-party: none.
package checkpoint
