package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

const (
	// failoverWriters clients write at once, each with its own secrets and consumer.
	failoverWriters = 16
	// failoverAcks operations are acknowledged before each fault and again after it,
	// so that every fault hits a loaded ledger and the ledger is shown to recover.
	failoverAcks = 150
)

// A PostgreSQL failover under Patroni (synchronous_mode, three nodes) beneath two ledger
// processes whose DATABASE_URL lists every node with target_session_attrs=read-write,
// while 16 clients create, bind, rotate and resolve: a crash of the primary's machine
// (Patroni and postmaster killed), the old primary coming back as a replica, and a
// planned switchover. The ledger reconnects by itself; clients see a 503 with a code or
// no answer while writes are refused, never a 500; every acknowledged write is in the
// log exactly once where its answer said, resolutions return the latest acknowledged
// version, the chain verifies, a subscriber gets every event of the company once, and
// the read models match the log before and after a rebuild.
func TestPatroniFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	pg := pgtest.StartPatroni(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Patroni cluster:\n%s", pg.Logs())
		}
	})
	tg := onTwoProcesses(t, "DATABASE_URL="+pg.RuntimeURL(), "DATABASE_MIGRATION_URL="+pg.OwnerURL())
	t.Cleanup(func() {
		if t.Failed() {
			for _, line := range strings.Split(tg.logs(), "\n") {
				if strings.Contains(line, "ERROR") {
					t.Log(line)
				}
			}
		}
	})
	board := tg.client(t, tg.token)
	board.hc = &http.Client{Timeout: 45 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: failoverWriters}}
	sub := startFollower(t, board.subscriber(t, companyA))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var crashed int
	faults := []struct {
		name   string
		inject func() error
	}{
		{"crash of the primary", func() error {
			crashed = pg.Leader()
			pg.Crash(crashed)
			_, err := pg.WaitLeader(ctx, crashed)
			return err
		}},
		{"the old primary back as a replica", func() error {
			if err := pg.Start(crashed); err != nil {
				return err
			}
			_, err := pg.WaitSynchronous(ctx)
			return err
		}},
		{"switchover", func() error {
			leader := pg.Leader()
			standby, err := pg.WaitSynchronous(ctx)
			if err != nil {
				return err
			}
			if err := pg.Switchover(ctx, leader, standby); err != nil {
				return err
			}
			_, err = pg.WaitLeader(ctx, leader)
			return err
		}},
	}
	run := startFailoverWriters(t, tg, board)
	for _, f := range faults {
		stats := run.phase(t, func() {
			if err := f.inject(); err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
		})
		t.Logf("%s: writes refused for at most %s; clients saw %s", f.name, stats.unavailable().Round(time.Millisecond), stats)
	}
	book := run.finish(t)
	waitSealedWith(t, tg.psql) // the events route and NATS carry the sealed log

	book.check(t, board)
	if code, out, errOut := tg.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify after the failovers: exit %d\n%s%s", code, out, errOut)
	}
	everyCompanyEventOnce(t, sub, readCompanyLog(t, board))
	if code, out, errOut := tg.run(t, "replay"); code != 0 {
		t.Fatalf("replay: exit %d\n%s%s", code, out, errOut)
	}
	book.check(t, board) // the rebuilt read models match the log too
}

// failoverRun is the writers of a failover test and the faults' statistics.
type failoverRun struct {
	writers []*failoverWriter
	stop    atomic.Bool
	acked   atomic.Int64
	stats   atomic.Pointer[faultStats]
	wg      sync.WaitGroup
	done    chan struct{}
}

func startFailoverWriters(t *testing.T, tg *apiTarget, board *apiClient) *failoverRun {
	t.Helper()
	r := &failoverRun{done: make(chan struct{})}
	r.stats.Store(newFaultStats())
	for i := range failoverWriters {
		name := fmt.Sprintf("fw%d", i)
		key := board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys",
			fmt.Sprintf(`{"targetType": "agent", "targetId": %q}`, name)).json(t)["token"].(string)
		agent := tg.client(t, key)
		agent.hc = board.hc
		r.writers = append(r.writers, &failoverWriter{board: board, agent: agent, name: name, stop: &r.stop,
			acked: func() { r.acked.Add(1) }, statsOf: r.stats.Load})
	}
	for _, w := range r.writers {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); w.run() }()
	}
	go func() { r.wg.Wait(); close(r.done) }()
	return r
}

// phase waits for failoverAcks acknowledgements, injects the fault, and waits for
// failoverAcks more: the ledger recovered by itself.
func (r *failoverRun) phase(t *testing.T, inject func()) *faultStats {
	t.Helper()
	stats := newFaultStats()
	r.stats.Store(stats)
	r.waitAcks(t, failoverAcks)
	stats.inject()
	inject()
	r.waitAcks(t, failoverAcks)
	return stats
}

func (r *failoverRun) waitAcks(t *testing.T, n int64) {
	t.Helper()
	target := r.acked.Load() + n
	deadline := time.Now().Add(2 * retryFor)
	for r.acked.Load() < target {
		select {
		case <-r.done:
			t.Fatalf("the writers stopped:\n%s", r.failures())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d operations acknowledged within %s", r.acked.Load(), target, 2*retryFor)
		}
	}
}

func (r *failoverRun) failures() string {
	var b strings.Builder
	for _, w := range r.writers {
		if w.failure != nil {
			fmt.Fprintf(&b, "%s: %v\n", w.name, w.failure)
		}
	}
	return b.String()
}

// finish stops the writers and files what they were acknowledged in a book.
func (r *failoverRun) finish(t *testing.T) *ackBook {
	t.Helper()
	r.stop.Store(true)
	<-r.done
	if f := r.failures(); f != "" {
		t.Fatalf("writers failed:\n%s", f)
	}
	book := newAckBook()
	for _, w := range r.writers {
		for _, c := range w.creates {
			book.creates[c.key] = c
			book.versions[c.id] = 1
		}
		for _, rot := range w.rotations {
			book.rotations = append(book.rotations, rot)
			book.versions[rot.id] = max(book.versions[rot.id], rot.version)
		}
	}
	return book
}

// everyCompanyEventOnce waits until the subscriber has every event of the company's
// log, and fails on a duplicate, a reordering or an event the log does not have.
func everyCompanyEventOnce(t *testing.T, sub *follower, l companyLog) {
	t.Helper()
	sub.waitFor(t, fmt.Sprintf("the %d events of the company", len(l.byPosition)), func(evs []natsbus.Envelope) bool {
		return len(evs) >= len(l.byPosition)
	})
	evs := sub.events()
	positions := make([]int64, len(evs))
	for i, e := range evs {
		positions[i] = e.Position
		if _, ok := l.byPosition[e.Position]; !ok || (i > 0 && e.Position <= positions[i-1]) {
			t.Fatalf("subscriber got position %d after %v: not in the log, duplicated or out of order", e.Position, positions[max(0, i-3):i])
		}
	}
	if len(evs) != len(l.byPosition) || !slices.IsSorted(positions) {
		t.Fatalf("subscriber got %d events, the log has %d", len(evs), len(l.byPosition))
	}
}
