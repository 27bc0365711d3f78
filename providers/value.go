package providers

import (
	"fmt"
	"log/slog"
)

// redacted is what every formatting of a Value prints.
const redacted = "[REDACTED]"

// Value holds secret material in memory. Every way of printing it (fmt verbs, %#v,
// slog) yields [REDACTED]; only Reveal gives the bytes, and only code that hands a value
// to its bound consumer or to a provider should call it.
type Value struct {
	b []byte
}

// NewValue wraps b; the Value keeps its own copy.
func NewValue(b []byte) Value { return Value{b: append([]byte(nil), b...)} }

// Reveal returns the secret bytes.
func (v Value) Reveal() []byte { return v.b }

// Len is the value's length in bytes.
func (v Value) Len() int { return len(v.b) }

// String implements fmt.Stringer.
func (Value) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v prints no bytes either.
func (Value) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format makes every verb (%v, %+v, %#v, %s, %q, %x …) print [REDACTED].
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }
