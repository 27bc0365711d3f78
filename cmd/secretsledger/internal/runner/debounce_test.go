package runner

import (
	"testing"
	"time"
)

// The pacing: the first change after a quiet period is acted on at once; changes within
// --debounce of the last action are gathered into one action when it has passed; so at
// most one action per --debounce however the feed flaps. Times are given, not slept.
func TestDebouncer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	d := debouncer{every: time.Second}
	type step struct {
		ms   int
		act  bool
		wait time.Duration
	}
	check := func(s step) {
		t.Helper()
		act, wait := d.change(at(s.ms))
		if act != s.act || wait != s.wait {
			t.Fatalf("change at %dms: act %v wait %v, want act %v wait %v", s.ms, act, wait, s.act, s.wait)
		}
	}
	check(step{0, true, 0}) // no action yet: at once
	d.acted(at(0))
	check(step{200, false, 800 * time.Millisecond}) // within a second of it: a timer to its end
	check(step{500, false, 0})                      // gathered into the timer already running
	check(step{900, false, 0})
	d.acted(at(1000)) // the timer fired: one action for three changes
	check(step{1999, false, time.Millisecond})
	d.acted(at(2000))
	check(step{3500, true, 0}) // quiet for a second and more: at once again
	d.acted(at(3500))
	// A failed action is retried at a timer of the caller's: changes meanwhile wait for it.
	d.retry()
	check(step{6000, false, 0})
	d.acted(at(6000))
	check(step{7000, true, 0}) // exactly --debounce after the last action is quiet enough
	// The start counts as an action: a change right after it waits its turn.
	d = debouncer{every: 100 * time.Millisecond}
	d.acted(at(0))
	check(step{10, false, 90 * time.Millisecond})
	// --debounce 0: every change at once.
	d = debouncer{}
	d.acted(at(0))
	check(step{0, true, 0})
}
