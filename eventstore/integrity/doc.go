// Package integrity holds the instance's integrity key: a 32-byte secret in a file apart
// from the database (0600), from which two keys are derived, one that keys the stored
// hashes of board tokens, agent keys and console sessions, and one that authenticates
// every event the ledger's writer appends. Someone who can write to the database but
// lacks the file can then neither add a credential row that authenticates nor append an
// event that the checkpoint signer accepts. It uses the standard library only.
//
// Imports: nothing of ours.
//
// Third-party: none.
package integrity
