// Package redact masks the exact values of secrets in text: what an agent runtime, or
// `secretsledger run --redact`, puts between a child process's output and the terminal or
// log, so a value the child prints is replaced by "[REDACTED:key]", naming the secret's key
// and never its value.
//
// Each value is looked for as its raw bytes and in these encodings of the whole value:
// standard and URL-safe base64, with and without padding, standalone or inside a larger
// base64 text at any offset (an HTTP Basic credential); url.QueryEscape and
// url.PathEscape; the inside of a JSON string as encoding/json writes it (with and without
// its HTML escaping of <, > and &); lower- and upper-case hex. All forms of all values are
// found in one pass by an Aho–Corasick automaton, so the cost per byte does not grow with
// the number of values. Where matches overlap, the overlapping bytes are masked together,
// once, under the key of the longest match, so no part of either value is left out.
//
// Scanner is the same search turned to the leak scan: it does not change the text but
// reports which of many values (thousands, where a Redactor has one process's few) occur
// in it, in which encoding, and where (offset, line and column), reading the text once in
// chunks. The overlapping occurrences of one value are one finding, the longest; two values
// that are equal are both reported. Its automaton keeps full rows only for the shallow
// states, where a scan spends most of its steps, and 8 bytes for each deeper state: the
// Redactor's table, a row per state, would take about a gigabyte for 10,000 values of
// 32–64 characters (4 million states, 66 byte classes, 4 bytes an entry). Contains
// answers whether a short text holds any value.
//
// Limits, and what is not caught (by both):
//   - values shorter than MinLength (8 bytes) are not masked or looked for; Redactor.Skipped
//     lists their keys, Scanner.Skipped their Refs;
//   - base64 is exact only for the value's own encoding: inside a larger base64 text the
//     one or two characters at each edge of the value mix its bits with its neighbours'
//     (they differ with the offset modulo 3 and with the neighbours), so the characters
//     that depend on the value alone are masked (or found) and the edge ones, at most 4
//     bits of the value each, are left;
//   - any other transformation is not caught: a value split by the child with other text in
//     between, reversed, compressed, encrypted, hashed, re-cased (other than hex),
//     percent-encoded with lower-case hex, escaped by another language's rules, or printed
//     one character per line; redaction is a safety net for accidents, not a boundary
//     against a child that means to leak a value.
//
// The writer holds back only the tail of each write that may still be the start of a value
// or an encoding (at most the longest encoded form less one byte, plus a match that an
// overlapping longer one may still extend) and writes it with the next write or on Close.
// So output is not held up at a line's end: a write that ends in a newline is written out
// whole unless a value itself contains a newline and the line ends with its start.
//
// Imports: nothing of ours.
//
// Third-party: none.
package redact
