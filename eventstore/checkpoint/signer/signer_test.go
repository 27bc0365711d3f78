package signer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint/signer"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type fixture struct {
	url    string // the database's owner URL
	signer *signer.Signer
	logs   *syncBuffer
	store  *eventstore.Store
	key    ed25519.PrivateKey
	export string
	stop   func()
}

// start runs a store and a signer with the given triggers; stop stops the signer
// (which signs the final head) and then the store.
func start(t *testing.T, everyEvents int64, interval time.Duration) *fixture {
	t.Helper()
	pool, url := pgtest.NewMigratedPool(t)
	wake := make(chan struct{}, 1)
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Committed: []chan<- struct{}{wake}})
	key, _, err := checkpoint.LoadOrCreateKey(filepath.Join(t.TempDir(), "checkpoint.key"))
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(t.TempDir(), "out", "checkpoints.jsonl")
	exp, err := checkpoint.OpenExport(export)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := &signer.Signer{Log: store, Key: key, InstanceID: "test", EveryEvents: everyEvents, Interval: interval, Wake: wake,
		Publish: []func(context.Context, checkpoint.Checkpoint) error{
			func(_ context.Context, c checkpoint.Checkpoint) error { return exp.Append(c) }},
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	storeCtx, stopStore := context.WithCancel(context.Background())
	storeDone := make(chan struct{})
	go func() { _ = store.Run(storeCtx); close(storeDone) }()
	signerCtx, stopSigner := context.WithCancel(context.Background())
	signerDone := make(chan error, 1)
	go func() { signerDone <- s.Run(signerCtx) }()
	f := &fixture{url: url, signer: s, logs: logs, store: store, key: key, export: export}
	var stopped bool
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		stopSigner()
		if err := <-signerDone; err != nil {
			t.Errorf("signer: %v", err)
		}
		stopStore()
		<-storeDone
		exp.Close()
	}
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) append(t *testing.T, n int) {
	t.Helper()
	for range n {
		e := eventstore.EventData{Type: "test.appended", SchemaVersion: 1, CompanyID: "co", Payload: json.RawMessage(`{}`)}
		if _, err := f.store.Append(context.Background(), "s", eventstore.AnyVersion, e); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCheckpoint polls until the newest checkpoint is at least want.
func (f *fixture) waitCheckpoint(t *testing.T, want int64) int64 {
	t.Helper()
	var got int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if got, err = f.store.LatestCheckpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got >= want {
			return got
		}
	}
	t.Fatalf("newest checkpoint %d, want %d", got, want)
	return 0
}

func (f *fixture) positions(t *testing.T) []int64 {
	t.Helper()
	cps, err := f.store.Checkpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, c := range cps {
		if !c.Valid(f.key.Public().(ed25519.PublicKey)) || c.InstanceID != "test" {
			t.Fatalf("stored checkpoint %d does not verify", c.Position)
		}
		out = append(out, c.Position)
	}
	return out
}

func TestSignsEveryNEvents(t *testing.T) {
	t.Parallel()
	f := start(t, 5, time.Hour)
	f.append(t, 4)
	f.append(t, 1)
	f.waitCheckpoint(t, 5)
	f.append(t, 5)
	f.waitCheckpoint(t, 10)
	f.append(t, 2) // below the count: only the final signature at shutdown takes it
	// The signer signs the sealed head: the final signature takes the last two once the
	// sealer has chained them.
	if _, err := f.store.SealedThrough(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.stop()
	// Each seal wakes the signer: it signs exactly at 5 and 10, never before the count,
	// and the final head when it stops.
	got := f.positions(t)
	if len(got) != 3 || got[0] != 5 || got[1] != 10 || got[2] != 12 {
		t.Fatalf("checkpoints at %v, want [5 10 12]", got)
	}
	b, err := os.ReadFile(f.export)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := checkpoint.ReadLines(bytes.NewReader(b))
	if err != nil || len(lines) != 3 || lines[2].Position != 12 || !lines[2].Valid(f.key.Public().(ed25519.PublicKey)) {
		t.Fatalf("export file: %v\n%s", err, b)
	}
	if fi, _ := os.Stat(f.export); fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file mode %v", fi.Mode())
	}
}

func TestSignsAMovedHeadEveryInterval(t *testing.T) {
	t.Parallel()
	f := start(t, 1000, 100*time.Millisecond)
	f.append(t, 3)
	f.waitCheckpoint(t, 3)
	f.append(t, 1)
	f.waitCheckpoint(t, 4)
	if got := f.positions(t); got[len(got)-1] != 4 {
		t.Fatalf("checkpoints at %v", got)
	}
}
