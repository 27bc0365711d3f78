package main

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// kill -9 of the process that seals the log while eight clients create and rotate
// secrets through the other one: the survivor takes the sealer's lease within its TTL
// and chains every acknowledged write exactly once, at the position it was acknowledged
// with and in each secret's order; the read model agrees with the log, and verify passes
// over all of it.
func TestKill9OfTheSealerLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	a := onTwoProcesses(t, "DATABASE_URL="+pgtest.NewDatabase(t), "LEDGER_LEASE_TTL=2s")
	victim, survivor := a.holderOf(t, "sealer")
	api := a.procs[survivor].client(t, a.token)
	book := newAckBook()

	var acked atomic.Int64
	const total = 2 * durabilityAcks
	half := make(chan struct{})
	writers := make([]*writer, durabilityWriters)
	var wg sync.WaitGroup
	for i := range writers {
		w := &writer{api: api, name: fmt.Sprintf("sealer-w%d", i)}
		writers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(func() bool {
				n := acked.Add(1)
				if n == total/2 {
					close(half)
				}
				return n < total
			})
		}()
	}
	select {
	case <-half:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d writes acknowledged in 60s", acked.Load())
	}
	if err := a.servers[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.servers[victim].exited
	wg.Wait()
	if f := failures(writers); f != "" {
		t.Fatalf("unexpected answers while the sealer was killed:\n%s", f)
	}
	for _, w := range writers {
		if w.lostCreate != nil || w.lostRotation != nil {
			t.Fatalf("%s lost an answer from the process that stayed up", w.name)
		}
		book.file(w)
	}
	replayed, rotated, checked := book.settleAfterKill(t, 1, api, a.procs[survivor])
	if replayed != 0 || rotated != 0 || checked < total {
		t.Fatalf("after the kill: %d replayed, %d unanswered rotations, verify checked %d events; want 0, 0 and at least %d",
			replayed, rotated, checked, total)
	}
	if roles := a.procs[survivor].roles(t); !slices.Contains(roles, "sealer") {
		t.Fatalf("the survivor holds %v, not the sealer", roles)
	}
	t.Logf("%d writes acknowledged, the sealer's process killed after %d; verify: %d events", acked.Load(), total/2, checked)
}

// holderOf waits until one of the processes holds role and returns its index and the
// other's.
func (a *apiTarget) holderOf(t *testing.T, role string) (holder, other int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for i, p := range a.procs {
			if slices.Contains(p.roles(t), role) {
				return i, 1 - i
			}
		}
	}
	t.Fatalf("no process holds %s", role)
	return 0, 0
}
