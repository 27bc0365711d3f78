package eventstore

import (
	"slices"
	"testing"
)

func positions(evs []Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

func sealedRun(from, to int64) []Event {
	var evs []Event
	for p := from; p <= to; p += 2 { // positions need not be dense
		evs = append(evs, Event{Position: p, Hash: []byte{byte(p)}})
	}
	return evs
}

// The run answers only what follows an event it holds (or the head it started from),
// starts anew when a batch does not continue it, and keeps at most recentSealedEvents.
func TestRecentSealedAnswersOnlyWhatItHoldsContiguously(t *testing.T) {
	var r recentSealed
	if _, ok := r.after(0, 10); ok {
		t.Fatal("an empty run answered")
	}
	r.add(10, sealedRun(12, 20)) // 12 14 16 18 20, sealed after 10
	r.add(20, sealedRun(22, 24)) // continues: 22 24
	if evs, ok := r.after(10, 3); !ok || !slices.Equal(positions(evs), []int64{12, 14, 16}) {
		t.Fatalf("after(10, 3) = %v, %v", positions(evs), ok)
	}
	if evs, ok := r.after(18, 10); !ok || !slices.Equal(positions(evs), []int64{20, 22, 24}) {
		t.Fatalf("after(18, 10) = %v, %v", positions(evs), ok)
	}
	for _, after := range []int64{8, 11, 13, 24, 30} { // before the run, between events, at or past its end
		if evs, ok := r.after(after, 10); ok {
			t.Fatalf("after(%d) answered %v from a run that does not hold what follows it", after, positions(evs))
		}
	}
	if h, ok := r.through(14, 22); !ok || h.Position != 22 || h.Hash[0] != 22 {
		t.Fatalf("through(14, 22) = %+v, %v", h, ok)
	}
	if _, ok := r.through(14, 23); ok {
		t.Fatal("through a position the run does not hold answered")
	}
	r.add(30, sealedRun(32, 32)) // another process sealed 26..30: a new run
	if _, ok := r.after(24, 10); ok {
		t.Fatal("a run with a gap answered across it")
	}
	if evs, ok := r.after(30, 10); !ok || !slices.Equal(positions(evs), []int64{32}) {
		t.Fatalf("after(30) = %v, %v", positions(evs), ok)
	}
	r.add(32, sealedRun(34, 34+2*(recentSealedEvents+9)))
	if len(r.events) != recentSealedEvents {
		t.Fatalf("the run holds %d events, bound %d", len(r.events), recentSealedEvents)
	}
	if _, ok := r.after(32, 1); ok {
		t.Fatal("an event dropped from the run is still answered")
	}
	if evs, ok := r.after(r.prev, 1); !ok || evs[0].Position != r.events[0].Position {
		t.Fatal("the run's new start is not answered")
	}
}
