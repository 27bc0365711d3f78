// Package progress draws the one progress line of a long operator command (a rebuild, a
// backup, a re-encryption) on a terminal, and nothing on a pipe. It imports only the
// standard library.
//
// Imports: nothing of ours.
//
// Third-party: none.
package progress
