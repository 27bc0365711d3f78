package natsbus

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Checkpoints published while the relay pipelines its pages stay out of the LEDGER
// stream: each event's stream sequence follows its predecessor's, which the relay's
// pipelined publishes require, and the subscriber gets every event once, in log order.
// (Were a checkpoint stored between two events, an event refused after it could be
// followed by the next one, stored out of order.)
func TestRelayOrderSurvivesCheckpointsInBetween(t *testing.T) {
	t.Parallel()
	const n = 1500
	tb := embeddedBus(t)
	s := subscriber("interleave1", "co-a")
	tb.admin(t).ensure(t, s)
	h := newHarness(t, tb.ledger)
	nc, err := tb.ledger.Connect("test checkpoints")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	var mu sync.Mutex
	var got []Envelope
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, tb.issue(t, s), func(e Envelope) error {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
			return nil
		})
	}()
	defer func() { cancel(); <-done }()

	appended := make(chan struct{})
	go func() { defer close(appended); h.append(t, "co-a", "s-a", n) }()
	published := 0
	for waiting := true; waiting; {
		select {
		case <-appended:
			waiting = false
		default:
			if err := nc.Publish(CheckpointSubject, []byte(`{"checkpoint": true}`)); err != nil {
				t.Fatal(err)
			}
			published++
			time.Sleep(2 * time.Millisecond) // a checkpoint every few milliseconds while the events go out
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		have := len(got)
		mu.Unlock()
		if have == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d events (relay %+v)", have, n, h.relay.Status())
		}
		time.Sleep(20 * time.Millisecond) // polling the subscriber
	}
	mu.Lock()
	defer mu.Unlock()
	for i, e := range got {
		if e.StreamVersion != int64(i+1) || (i > 0 && e.Position <= got[i-1].Position) {
			t.Fatalf("event %d: %+v after %+v", i, e, got[max(i-1, 0)])
		}
	}
	st, err := tb.admin(t).js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := st.CachedInfo().State.Msgs; msgs != n {
		t.Fatalf("the stream holds %d messages, want the %d events only (%d checkpoints were published)", msgs, n, published)
	}
	t.Logf("%d checkpoints published among %d events", published, n)
}
