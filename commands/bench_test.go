package commands

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/queries"
)

// BenchmarkFoldAndDecideRotate folds a secret with 100 versions and decides a rotation:
// the in-memory work of every rotate command.
func BenchmarkFoldAndDecideRotate(b *testing.B) {
	var stream []eventstore.Event
	add := func(typ string, payload any) {
		raw, _ := json.Marshal(payload)
		stream = append(stream, eventstore.Event{Position: int64(len(stream) + 1), EventID: ulid.Make(), StreamVersion: int64(len(stream) + 1),
			Type: typ, SchemaVersion: 1, CompanyID: "co", Payload: raw, RecordedAt: time.Now()})
	}
	add(events.SecretCreated, events.SecretCreatedV1{SecretID: "s", Name: "n", Key: "k", Provider: "local_encrypted", ManagedMode: ManagedByLedger, ProviderVersionRef: "lev_1"})
	for v := 2; v <= 100; v++ {
		add(events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: "s", Version: v, ProviderVersionRef: "lev_x", Fingerprint: "ab"})
	}
	value := val("new-value")
	b.ResetTimer()
	for b.Loop() {
		var st secretState
		for _, e := range stream {
			if err := st.apply(e); err != nil {
				b.Fatal(err)
			}
		}
		if err := decideRotate(st, RotateSecret{Value: value}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolve resolves a consumer bound to 3 secrets against the real database:
// folds, three decrypts and the audited append.
func BenchmarkResolve(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	for _, name := range []string{"one", "two", "three"} {
		res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: name, Value: val(name)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: res.SecretID, ConfigPath: "env." + name}); err != nil {
			b.Fatal(err)
		}
	}
	agent := f.agentFor(b, x)
	b.ResetTimer()
	for b.Loop() {
		res, err := f.h().ResolveValues(ctx, agent, Resolve{})
		if err != nil || len(res.Env) != 3 {
			b.Fatalf("%v, %d values", err, len(res.Env))
		}
	}
}
