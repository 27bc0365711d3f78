package events

import (
	"slices"

	"github.com/secretsledger/secretsledger/eventstore"
)

// Handler folds one decoded event into S.
type Handler[S any] func(s S, e eventstore.Event, payload any) error

// Dispatch is the table of one fold or projection: a handler per event type it uses
// and the types it ignores on purpose. Every registered type of the streams it reads
// is in one or the other; the reader's tests check that with Reader().Unhandled, so
// a new event type cannot be left out of a fold by accident.
type Dispatch[S any] struct {
	// Name says which fold or projection this is ("commands: secretState").
	Name string
	// Streams are the prefixes of the streams it reads; none: the whole log.
	Streams []string
	Handle  map[string]Handler[S]
	// Ignore are the types of those streams it reads and does nothing with.
	Ignore []string
}

// Apply hands a decoded event to its type's handler; other types change nothing.
func (d Dispatch[S]) Apply(s S, e eventstore.Event, payload any) error {
	if h, ok := d.Handle[e.Type]; ok {
		return h(s, e, payload)
	}
	return nil
}

// Reader describes the table for tests and the catalogue.
func (d Dispatch[S]) Reader() Reader {
	r := Reader{Name: d.Name, Streams: d.Streams, Ignores: slices.Clone(d.Ignore)}
	for name := range d.Handle {
		r.Handles = append(r.Handles, name)
	}
	slices.Sort(r.Handles)
	slices.Sort(r.Ignores)
	return r
}

// On makes a handler of a function of one payload type. An event whose payload is of
// another type (which Decode never returns for a registered name) changes nothing.
func On[S, P any](f func(s S, e eventstore.Event, p *P)) Handler[S] {
	return func(s S, e eventstore.Event, payload any) error {
		if p, ok := payload.(*P); ok {
			f(s, e, p)
		}
		return nil
	}
}

// OnErr is On for a handler that can fail.
func OnErr[S, P any](f func(s S, e eventstore.Event, p *P) error) Handler[S] {
	return func(s S, e eventstore.Event, payload any) error {
		if p, ok := payload.(*P); ok {
			return f(s, e, p)
		}
		return nil
	}
}

// Reader is what one fold or projection does with each event type it reads.
type Reader struct {
	Name string
	// Streams are the prefixes of the streams it reads; none: the whole log.
	Streams          []string
	Handles, Ignores []string
}

// Reads reports whether the reader reads the streams of an event type.
func (r Reader) Reads(t Type) bool {
	return len(r.Streams) == 0 || slices.Contains(r.Streams, t.Stream.Prefix)
}

// Unhandled returns the problems of the reader's table: the registered types of the
// streams it reads that it neither handles nor ignores, and the names it lists that
// are no registered type. Nil: the table is exhaustive.
func (r Reader) Unhandled() []string {
	var out []string
	for _, t := range registry {
		if r.Reads(t) && !slices.Contains(r.Handles, t.Name) && !slices.Contains(r.Ignores, t.Name) {
			out = append(out, r.Name+": neither handles nor ignores "+t.Name)
		}
	}
	for _, n := range append(slices.Clone(r.Handles), r.Ignores...) {
		if _, ok := byName[n]; !ok {
			out = append(out, r.Name+": lists "+n+", which is no registered event type")
		}
	}
	return out
}
