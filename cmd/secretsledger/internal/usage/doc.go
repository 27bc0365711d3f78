// Package usage marks the errors the operator fixes by changing the command line, the
// configuration or a prerequisite (a taken port, a missing key file): the binary exits
// 2 on them instead of 1. It lets the packages under cmd/secretsledger that do the work
// say so without importing package main. It imports only the standard library.
//
// Imports: nothing of ours.
//
// Third-party: none.
package usage
