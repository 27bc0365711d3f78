package natsbus

import (
	"context"
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

	sub := follow(t, tb.issue(t, s))

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
	if !sub.waitFor(n, 30*time.Second) {
		t.Fatalf("received %d of %d events (relay %+v)", sub.count(), n, h.relay.Status())
	}
	sub.inOrder(t, n)
	st, err := tb.admin(t).js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := st.CachedInfo().State.Msgs; msgs != n {
		t.Fatalf("the stream holds %d messages, want the %d events only (%d checkpoints were published)", msgs, n, published)
	}
	t.Logf("%d checkpoints published among %d events", published, n)
}
