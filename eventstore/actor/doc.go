// Package actor says who is calling: a board (operator) token, instance-wide or limited
// to listed companies, or an agent key. Commands, queries and the HTTP layer all scope
// by it.
//
// Imports: nothing of ours.
//
// Third-party: none.
package actor
