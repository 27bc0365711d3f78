package events

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Golden JSON of every version of every registered type: a diff here means the
// persisted format changed.
func TestGoldenPayloads(t *testing.T) {
	cases := map[string]any{}
	for _, typ := range Types() {
		for _, v := range typ.Versions {
			cases[typ.Name+".v"+strconv.Itoa(v.Schema)] = v.Sample
		}
	}
	checkGolden(t, cases)
	// Every golden file is a registered version: a type is never dropped from the
	// registry while the log may hold it.
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := cases[strings.TrimSuffix(filepath.Base(f), ".json")]; !ok {
			t.Errorf("%s is the golden file of no registered version", f)
		}
	}
}

// The registry is consistent: names unique and non-empty, versions ascending, only
// older versions upcast, every type's stream prefix one of the prefixes.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	prefixes := []string{SecretStreamPrefix, ConsumerStreamPrefix, AccessStreamPrefix, AgentKeyStreamPrefix, CompanyStreamPrefix,
		EventSubscriberStreamPrefix, VaultStreamPrefix, ExternalPolicyStreamPrefix, ExternalRefusalStreamPrefix, LeakScanStreamPrefix}
	for _, typ := range Types() {
		if typ.Name == "" || seen[typ.Name] {
			t.Errorf("%q: empty or registered twice", typ.Name)
		}
		seen[typ.Name] = true
		if !slices.Contains(prefixes, typ.Stream.Prefix) || !strings.HasPrefix(typ.Stream.Pattern, typ.Stream.Prefix) {
			t.Errorf("%s: stream %+v", typ.Name, typ.Stream)
		}
		for i, v := range typ.Versions {
			last := i == len(typ.Versions)-1
			if (i > 0 && v.Schema <= typ.Versions[i-1].Schema) || (v.upcast == nil) != last {
				t.Errorf("%s: version %d out of order or upcast wrongly", typ.Name, v.Schema)
			}
		}
		if byName[typ.Name] == nil || byName[typ.Name].Name != typ.Name {
			t.Errorf("%s is not indexed", typ.Name)
		}
	}
	if p, err := Decode(eventstore.Event{Type: "no.such_type", SchemaVersion: 1, Payload: []byte(`{}`)}); p != nil || err != nil {
		t.Errorf("an unknown type decoded to %v, %v; want nil, nil", p, err)
	}
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
