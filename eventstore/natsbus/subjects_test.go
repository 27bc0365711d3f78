package natsbus

import (
	"encoding/json"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// Envelopes that leave the log carry no credential hash, of any schema, and keep every
// other field.
func TestEnvelopesCarryNoCredentialHash(t *testing.T) {
	t.Parallel()
	for _, payload := range []any{
		events.AgentKeyIssuedV1{KeyID: "k", TargetType: "agent", TargetID: "a", TokenHash: "9f86d0"},
		events.AgentKeyIssuedV2{KeyID: "k", TargetType: "agent", TargetID: "a", TokenKeyedHash: "5b1c7e"},
		events.EventSubscriberIssuedV1{SubscriberID: "s", PasswordHash: "$2a$10$abc"},
	} {
		d, err := events.New(events.AgentKeyIssued, "co", payload, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		env := EnvelopeOf(eventstore.Event{Type: d.Type, SchemaVersion: d.SchemaVersion, Payload: d.Payload})
		var got map[string]any
		if err := json.Unmarshal(env.Payload, &got); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"tokenHash", "tokenKeyedHash", "passwordHash"} {
			if _, ok := got[f]; ok {
				t.Fatalf("%T: the envelope holds %s: %s", payload, f, env.Payload)
			}
		}
		if got["keyId"] != "k" && got["subscriberId"] != "s" {
			t.Fatalf("%T: the envelope lost its other fields: %s", payload, env.Payload)
		}
	}
}
