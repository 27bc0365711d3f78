package natsbus

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/secretsledger/secretsledger/eventstore"
)

// BenchmarkCommitToSubscriber measures how long an event takes from the moment its
// Append returns (committed) to the moment a JetStream subscriber receives it, with
// appends paced at 500 events/s. It reports p50_ms and p99_ms.
func BenchmarkCommitToSubscriber(b *testing.B) {
	const rate = 500
	ns, err := StartEmbedded(EmbeddedOptions{Addr: "127.0.0.1:0", Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Shutdown()
	h := newHarness(b, ns.Endpoint())
	// Create the stream before timing: one event, received.
	h.appendOne(b, 0)
	nc, err := ns.Endpoint().Connect("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()

	var mu sync.Mutex
	committed := map[int64]time.Time{}
	received := map[int64]time.Time{}
	all := make(chan struct{})
	var sub *nats.Subscription
	for sub == nil {
		sub, err = js.Subscribe(EventSubjects, func(m *nats.Msg) {
			var env Envelope
			if json.Unmarshal(m.Data, &env) != nil {
				return
			}
			mu.Lock()
			received[env.Position] = time.Now()
			if len(received) == b.N+1 {
				close(all)
			}
			mu.Unlock()
		}, nats.OrderedConsumer())
		if err != nil {
			time.Sleep(20 * time.Millisecond) // the relay creates the stream with its first publish
		}
	}
	defer sub.Unsubscribe()

	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		pos := h.appendOne(b, i+1)
		mu.Lock()
		committed[pos] = time.Now()
		mu.Unlock()
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		b.Fatalf("received %d of %d events", len(received), b.N+1)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	lat := make([]float64, 0, len(committed))
	for pos, at := range committed {
		d := received[pos].Sub(at)
		if d < 0 {
			d = 0 // received before Append returned to the caller
		}
		lat = append(lat, float64(d.Microseconds())/1000)
	}
	sort.Float64s(lat)
	b.ReportMetric(lat[len(lat)/2], "p50_ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99_ms")
	b.ReportMetric(lat[len(lat)-1], "max_ms")
}

func (h *harness) appendOne(tb testing.TB, i int) int64 {
	b, _ := json.Marshal(map[string]int{"i": i})
	res, err := h.store.Append(context.Background(), "bench", eventstore.AnyVersion,
		eventstore.EventData{Type: "secret.version_added", SchemaVersion: 1, CompanyID: "co", Payload: b})
	if err != nil {
		tb.Fatal(err)
	}
	return res.LastPosition
}
