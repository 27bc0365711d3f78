package events

import (
	"slices"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
)

type counter struct{ created, other int }

var countFold = Dispatch[*counter]{
	Name:    "test: counter",
	Streams: []string{SecretStreamPrefix},
	Handle: map[string]Handler[*counter]{
		SecretCreated: On(func(c *counter, _ eventstore.Event, _ *SecretCreatedV1) { c.created++ }),
		SecretDeleted: On(func(c *counter, _ eventstore.Event, _ *SecretDeletedV1) { c.other++ }),
	},
	Ignore: []string{SecretVersionAdded, SecretUpdated, SecretRestored, SecretPurged},
}

// Apply runs the type's handler and nothing for other types; a table that lists every
// type of its streams is exhaustive until a type is registered for them.
func TestDispatch(t *testing.T) {
	var c counter
	for _, typ := range []string{SecretCreated, SecretDeleted, SecretUpdated, BindingCreated} {
		p, err := Decode(eventstore.Event{Type: typ, SchemaVersion: 1, Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := countFold.Apply(&c, eventstore.Event{Type: typ}, p); err != nil {
			t.Fatal(err)
		}
	}
	if c != (counter{created: 1, other: 1}) {
		t.Fatalf("applied %+v", c)
	}
	r := countFold.Reader()
	if got := r.Unhandled(); got != nil {
		t.Fatalf("Unhandled = %v", got)
	}
	if !slices.Equal(r.Handles, []string{SecretCreated, SecretDeleted}) {
		t.Fatalf("Handles = %v", r.Handles)
	}

	// A type registered for the stream (here only for the test) is reported until the
	// table handles or ignores it; so is a name that is no registered type.
	saved := registry
	t.Cleanup(func() { registry = saved })
	registry = append(slices.Clone(registry), Type{Name: "secret.dummy", Stream: secretStream, Versions: v1(SecretDeletedV1{})})
	r.Ignores = append(r.Ignores, "secret.typo")
	want := []string{"test: counter: neither handles nor ignores secret.dummy",
		"test: counter: lists secret.typo, which is no registered event type"}
	if got := r.Unhandled(); !slices.Equal(got, want) {
		t.Fatalf("Unhandled = %q, want %q", got, want)
	}
}
