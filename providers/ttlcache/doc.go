// Package ttlcache is the bounded in-memory cache the remote providers keep resolved
// values and guardrail answers in: each entry lives for a TTL, the least recently used
// goes first when the bound is reached, and a closed cache keeps nothing.
//
// Imports: nothing of ours.
//
// Third-party: none.
package ttlcache
