package signer_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// syncBuffer is a log destination the signer's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// An event inserted by a database writer with a correct chain hash is never signed: the
// signer signs up to just before it, raises the alert (ForgedAt, one ERROR line), and
// legitimate events after it stay unsigned too, even at shutdown.
func TestNeverSignsPastAForgedEvent(t *testing.T) {
	t.Parallel()
	f := start(t, 1000, 20*time.Millisecond)
	f.append(t, 3)
	f.waitCheckpoint(t, 3)
	pool := pgtest.NewPool(t, pgtest.RuntimeURL(t, f.url))
	if _, err := pool.Exec(context.Background(), pgtest.ForgeEvent("forged", "NULL")); err != nil {
		t.Fatalf("forged insert as the runtime role: %v", err)
	}
	f.append(t, 2)
	for deadline := time.Now().Add(5 * time.Second); f.signer.ForgedAt() != 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("ForgedAt = %d, want 4", f.signer.ForgedAt())
		}
	}
	f.stop() // signs the final head, if it may
	if got := f.positions(t); got[len(got)-1] != 3 {
		t.Fatalf("checkpoints at %v; want none past 3", got)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "level=ERROR"); n != 1 || !strings.Contains(logs, "did not write (no valid MAC)") || !strings.Contains(logs, "position=4") {
		t.Fatalf("want one ERROR line naming position 4:\n%s", logs)
	}
}

// A forged event that arrives between two checkpoints: the signer still signs the
// legitimate events before it.
func TestSignsUpToJustBeforeAForgedEvent(t *testing.T) {
	t.Parallel()
	f := start(t, 1000, time.Hour)
	f.append(t, 2)
	pool := pgtest.NewPool(t, pgtest.RuntimeURL(t, f.url))
	if _, err := pool.Exec(context.Background(), pgtest.ForgeEvent("forged", "NULL")); err != nil {
		t.Fatalf("forged insert as the runtime role: %v", err)
	}
	f.append(t, 1)
	f.stop()
	if got := f.positions(t); len(got) != 1 || got[0] != 2 || f.signer.ForgedAt() != 3 {
		t.Fatalf("checkpoints at %v, ForgedAt %d; want [2] and 3", got, f.signer.ForgedAt())
	}
}
