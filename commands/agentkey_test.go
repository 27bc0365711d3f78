package commands

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/queries"
)

// An agent key recorded with its token's bare SHA-256 (schema 1, what the ledger wrote
// before hashes were keyed, and what anyone who can append to the log can compute)
// authenticates only when its event is among the legacy ones (at or before
// LegacyThrough); a later one was not written by the ledger. A key recorded with a bare
// hash where the keyed one belongs matches nothing. Keys the ledger issues authenticate.
func TestAgentKeysRecordedWithABareHash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	record := func(id string, payload any) int64 {
		t.Helper()
		evt, err := events.New(events.AgentKeyIssued, "co", payload, eventstore.Metadata{ActorType: actor.Board, ActorID: "old"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.h().append(ctx, eventstore.Append{Stream: events.AgentKeyStream(id), Expected: eventstore.NoStream,
			Events: []eventstore.EventData{evt}})
		if err != nil {
			t.Fatal(err)
		}
		return res.LastPosition
	}
	legacy := record("legacy", events.AgentKeyIssuedV1{KeyID: "legacy", TargetType: "agent", TargetID: "x",
		TokenHash: actor.HashToken("sla_legacy")})
	record("late", events.AgentKeyIssuedV1{KeyID: "late", TargetType: "agent", TargetID: "x", TokenHash: actor.HashToken("sla_late")})
	record("bare", events.AgentKeyIssuedV2{KeyID: "bare", TargetType: "agent", TargetID: "x", TokenKeyedHash: actor.HashToken("sla_bare")})
	issued, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}})
	if err != nil {
		t.Fatal(err)
	}

	// A process started after the upgrade: the legacy events end at the first key's.
	upgraded := f.over(newRuntime(f.store, keyHashes{key: testKey, legacyThrough: legacy}))
	for token, want := range map[string]string{"sla_legacy": "legacy", issued.Token: issued.KeyID, "sla_late": "", "sla_bare": ""} {
		for range 2 { // folded from the log, then from memory
			a, err := upgraded.AuthenticateAgent(ctx, token)
			switch {
			case want == "" && ledgererr.CodeOf(err) != ledgererr.Unauthorized:
				t.Fatalf("%s: %+v %v, want unauthorized", token, a, err)
			case want != "" && (err != nil || a.ID != want):
				t.Fatalf("%s: %+v %v, want key %s", token, a, err, want)
			}
		}
	}
	// With no legacy events (an instance made after the change), schema 1 authenticates nothing.
	fresh := f.over(newRuntime(f.store, keyHashes{key: testKey}))
	if _, err := fresh.AuthenticateAgent(ctx, "sla_legacy"); ledgererr.CodeOf(err) != ledgererr.Unauthorized {
		t.Fatalf("a schema 1 key after the legacy events: %v, want unauthorized", err)
	}
	// What the ledger records now is the keyed hash, never the bare one.
	st, err := f.h().agentKey(ctx, events.AgentKeyStream(issued.KeyID))
	if err != nil || st.tokenHash != hex.EncodeToString(testKey.CredentialHash(issued.Token)) || st.tokenHash == actor.HashToken(issued.Token) {
		t.Fatalf("the issued key's recorded hash %q (%v)", st.tokenHash, err)
	}
	// Without the integrity key no key is issued or accepted.
	keyless := f.over(newRuntime(f.store, keyHashes{}))
	if _, err := keyless.AuthenticateAgent(ctx, issued.Token); err == nil {
		t.Fatal("authenticated without the integrity key")
	}
	if _, err := keyless.IssueKey(ctx, board, IssueAgentKey{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}}); err == nil {
		t.Fatal("issued without the integrity key")
	}
}

// Whoever can append to the log can read a key's keyed hash from its issued event, but
// cannot lend that key's token another identity: a copy of the hash in a forged key of
// another company matches no token (tokens name their key), and a second issued event
// in the key's own stream changes nothing.
func TestACopiedKeyedHashLendsTheTokenNoOtherIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	issued, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := keyIDOf(issued.Token); !ok || id != issued.KeyID {
		t.Fatalf("the token %q does not name its key %s", issued.Token, issued.KeyID)
	}
	keyed := hex.EncodeToString(testKey.CredentialHash(issued.Token))
	log := f.store
	// The forged rows go at the sealed head: the key's own events are sealed first.
	before, err := log.SealedThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Rows inserted straight into the log, as a database writer would (the ledger's own
	// append path would refuse the duplicate hash in the read model).
	forge := func(stream string, version int64, keyID string) {
		t.Helper()
		payload := fmt.Sprintf(`{"keyId": %q, "targetType": "agent", "targetId": "victim", "tokenKeyedHash": %q}`, keyID, keyed)
		if _, err := f.pool.Exec(ctx, pgtest.ForgedAppend(pgtest.Forged{EventID: ulid.Make().String(), StreamID: stream,
			StreamVersion: version, Type: events.AgentKeyIssued, SchemaVersion: 2, CompanyID: "other", Payload: payload})); err != nil {
			t.Fatal(err)
		}
	}
	forge(events.AgentKeyStream("forged"), 1, "forged")
	forge(events.AgentKeyStream(issued.KeyID), 2, issued.KeyID)
	forge(events.AgentKeyStream("misnamed"), 1, issued.KeyID)
	var after int64 // the store's head is what it appended itself
	if err := f.pool.QueryRow(ctx, `SELECT max(position) FROM ledger_events`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if tailed, err := log.ReadAllExcept(ctx, before, after, 100, undecided); err != nil || len(tailed) != 0 {
		t.Fatalf("the tail's read returned %d forged events, %v; want none", len(tailed), err)
	}
	tailed, err := eventstore.ReadAll(ctx, f.pool, before, 100)
	if err != nil || len(tailed) != 3 {
		t.Fatalf("the forged events: %d, %v", len(tailed), err)
	}
	// Were memory to observe them anyway, they continue the chain, as an attacker's would.
	f.h().Observe(tailed)
	for _, e := range tailed {
		var payload, metadata []byte
		if err := f.pool.QueryRow(ctx, `SELECT payload::text, metadata::text FROM ledger_events WHERE position = $1`,
			e.Position).Scan(&payload, &metadata); err != nil {
			t.Fatal(err)
		}
		want := eventstore.ChainHash(e.PrevHash, eventstore.ChainFields{Position: e.Position, EventID: e.EventID.String(),
			StreamID: e.StreamID, StreamVersion: e.StreamVersion, EventType: e.Type, SchemaVersion: e.SchemaVersion,
			CompanyID: e.CompanyID, Payload: payload, Metadata: metadata, RecordedAt: e.RecordedAt})
		if !bytes.Equal(want, e.Hash) {
			t.Fatalf("the forged event at %d does not continue the chain", e.Position)
		}
	}
	fresh := f.over(newRuntime(f.store, keyHashes{key: testKey}))
	for _, h := range []handlers{f.h(), fresh} { // memory that saw the appends, and one folding from the log
		a, err := h.AuthenticateAgent(ctx, issued.Token)
		if err != nil || a.ID != issued.KeyID || a.Companies[0] != "co" || a.TargetID != "x" {
			t.Fatalf("the token after the forgeries: %+v %v, want key %s of co/agent/x", a, err, issued.KeyID)
		}
		for _, token := range []string{AgentTokenPrefix + "forged" + tokenKeySeparator + "guess", AgentTokenPrefix + "misnamed.guess"} {
			if _, err := h.AuthenticateAgent(ctx, token); ledgererr.CodeOf(err) != ledgererr.Unauthorized {
				t.Fatalf("%s: %v, want unauthorized", token, err)
			}
		}
	}
}
