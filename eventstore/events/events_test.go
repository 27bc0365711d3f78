package events

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func str(s string) *string { return &s }

// Golden JSON of every payload version: a diff here means the persisted format changed.
func TestGoldenPayloads(t *testing.T) {
	cases := map[string]any{
		"secret.created.v1": SecretCreatedV1{SecretID: "01JSECRET", Name: "OpenAI", Key: "openai", Description: "prod key",
			Provider: "local_encrypted", ManagedMode: "paperclip_managed", ProviderVersionRef: "lev_01JREF", Fingerprint: "ab12"},
		"secret.version_added.v1": SecretVersionAddedV1{SecretID: "01JSECRET", Version: 2, ProviderVersionRef: "lev_01JREF2", Fingerprint: "cd34"},
		"secret.updated.v1":       SecretUpdatedV1{SecretID: "01JSECRET", Name: str("OpenAI prod"), Status: str("disabled")},
		"secret.deleted.v1":       SecretDeletedV1{SecretID: "01JSECRET"},
		"secret.restored.v1":      SecretRestoredV1{SecretID: "01JSECRET", Status: "active"},
		"secret.purged.v1":        SecretPurgedV1{SecretID: "01JSECRET"},
		"binding.created.v1": BindingCreatedV1{BindingID: "01JBIND", SecretID: "01JSECRET", TargetType: "agent", TargetID: "agent-x",
			ConfigPath: "env.API_KEY", VersionSelector: "latest", Required: true, Label: "OpenAI"},
		"binding.removed.v1": BindingRemovedV1{BindingID: "01JBIND", ConfigPath: "env.API_KEY"},
		"consumer.env_set.v1": ConsumerEnvSetV1{TargetType: "agent", TargetID: "agent-x", Env: map[string]EnvEntryV1{
			"LOG_LEVEL": {Type: "plain", ProviderVersionRef: "lev_01JREF", Fingerprint: "ef56"},
			"API_KEY":   {Type: "secret_ref", SecretID: "01JSECRET", Version: "latest"},
		}},
		"agent_key.issued.v1":         AgentKeyIssuedV1{KeyID: "01JKEY", TargetType: "agent", TargetID: "agent-x", Label: "runner", TokenHash: "9f86d0"},
		"agent_key.issued.v2":         AgentKeyIssuedV2{KeyID: "01JKEY", TargetType: "agent", TargetID: "agent-x", Label: "runner", TokenKeyedHash: "5b1c7e"},
		"agent_key.revoked.v1":        AgentKeyRevokedV1{KeyID: "01JKEY"},
		"event_subscriber.issued.v1":  EventSubscriberIssuedV1{SubscriberID: "01JSUB", Label: "runner", PasswordHash: "$2a$10$abc"},
		"event_subscriber.revoked.v1": EventSubscriberRevokedV1{SubscriberID: "01JSUB"},
		"company.frozen.v1":           CompanyFrozenV1{Reason: "incident 42: leaked runner image"},
		"company.unfrozen.v1":         CompanyUnfrozenV1{Reason: "keys rotated"},
		"consumer.frozen.v1":          ConsumerFrozenV1{TargetType: "agent", TargetID: "agent-x", Reason: "suspicious reads"},
		"consumer.unfrozen.v1":        ConsumerUnfrozenV1{TargetType: "agent", TargetID: "agent-x", Reason: "new key issued"},
		"secret.accessed.v1": SecretAccessedV1{SecretID: "01JSECRET", Version: 2, TargetType: "agent", TargetID: "agent-x",
			ConfigPath: "env.API_KEY", RunID: "run-1", Outcome: "resolved"},
	}
	checkGolden(t, cases)
}

// checkGolden compares each payload's JSON with its golden file (testdata/<type>.v<N>.json;
// -update rewrites them) and checks that it decodes back to the same payload.
func checkGolden(t *testing.T, cases map[string]any) {
	t.Helper()
	for name, payload := range cases {
		got, err := json.MarshalIndent(payload, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".json")
		if *update {
			if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test -update once to create it)", name, err)
		}
		if string(want) != string(got)+"\n" {
			t.Errorf("%s changed:\n got %s\nwant %s", name, got, want)
		}
		// And it decodes back to the same payload (an old version: to its upcast, which
		// TestUpcasts checks).
		dot := strings.LastIndex(name, ".v")
		version, _ := strconv.Atoi(name[dot+2:])
		e := eventstore.Event{Type: name[:dot], SchemaVersion: version, Payload: got}
		decoded, err := Decode(e)
		if err != nil || decoded == nil {
			t.Fatalf("%s: Decode = %v, %v", name, decoded, err)
		}
		if reflect.TypeOf(decoded).Elem() != reflect.TypeOf(payload) {
			continue
		}
		again, _ := json.MarshalIndent(decoded, "", "  ")
		if string(again) != string(got) {
			t.Errorf("%s does not round-trip: %s", name, again)
		}
	}
}

// Schema 1 of agent_key.issued (the bare SHA-256 of the token) is upcast to schema 2 with
// the hash in UnkeyedTokenHash, never in TokenKeyedHash; schema 2 is what New writes.
func TestUpcasts(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "agent_key.issued.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(eventstore.Event{Type: AgentKeyIssued, SchemaVersion: 1, Payload: v1})
	if err != nil {
		t.Fatal(err)
	}
	want := &AgentKeyIssuedV2{KeyID: "01JKEY", TargetType: "agent", TargetID: "agent-x", Label: "runner", UnkeyedTokenHash: "9f86d0"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("upcast = %+v, want %+v", got, want)
	}
	if _, err := Decode(eventstore.Event{Type: AgentKeyIssued, SchemaVersion: 3, Payload: v1}); err == nil {
		t.Fatal("an unknown schema version decoded")
	}
	d, err := New(AgentKeyIssued, "c", AgentKeyIssuedV2{KeyID: "k", TokenKeyedHash: "ab"}, eventstore.Metadata{})
	if err != nil || d.SchemaVersion != 2 {
		t.Fatalf("New(V2) = schema %d, %v; want 2", d.SchemaVersion, err)
	}
	if d, _ := New(AgentKeyIssued, "c", AgentKeyIssuedV1{KeyID: "k", TokenHash: "ab"}, eventstore.Metadata{}); d.SchemaVersion != 1 {
		t.Fatalf("New(V1) = schema %d, want 1", d.SchemaVersion)
	}
}
