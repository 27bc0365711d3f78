package events

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/secretsledger/secretsledger/eventstore"
)

// New encodes payload as an event of type typ for company, with the schema version
// whose payload type payload is (the registry says which; 1 for a type it does not
// know).
func New(typ, company string, payload any, meta eventstore.Metadata) (eventstore.EventData, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("events: encode %s: %w", typ, err)
	}
	version := 1
	if t, ok := byName[typ]; ok {
		for _, v := range t.Versions {
			if reflect.TypeOf(v.Sample) == reflect.TypeOf(payload) {
				version = v.Schema
			}
		}
	}
	return eventstore.EventData{Type: typ, SchemaVersion: version, CompanyID: company, Payload: b, Metadata: meta}, nil
}

// Decode decodes a recorded event's payload into a pointer to its type's current
// payload, upcasting old schema versions. An event type this binary does not know
// decodes to nil, nil: readers skip it.
func Decode(e eventstore.Event) (any, error) {
	t, ok := byName[e.Type]
	if !ok {
		return nil, nil
	}
	v, ok := t.version(e.SchemaVersion)
	if !ok {
		return nil, fmt.Errorf("events: %s at position %d has unknown schema version %d", e.Type, e.Position, e.SchemaVersion)
	}
	var p any
	var err error
	if v.upcast != nil {
		p, err = v.upcast(e.Payload)
	} else {
		p = reflect.New(reflect.TypeOf(v.Sample)).Interface()
		err = json.Unmarshal(e.Payload, p)
	}
	if err != nil {
		return nil, fmt.Errorf("events: decode %s at position %d: %w", e.Type, e.Position, err)
	}
	return p, nil
}
