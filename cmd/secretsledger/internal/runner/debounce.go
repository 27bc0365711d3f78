package runner

import "time"

// debouncer paces what --watch does after changes, without delaying the first one: a
// change after a quiet period (--debounce since the last action) is acted on at once;
// changes within --debounce of the last action are gathered and acted on, once, when
// --debounce has passed since it. So at most one resolution (and restart) per --debounce,
// however often the feed flaps. It holds no timer: the caller starts one for the wait it
// is given and passes the times in, so a test drives it with a clock of its own.
type debouncer struct {
	every   time.Duration
	last    time.Time // the last action; zero: none yet
	pending bool      // an action is due at a timer the caller started
}

// change records a change seen at now. act: act now. Otherwise wait > 0 is a timer to
// start, at whose end the caller acts; wait 0 means one is already running, and the
// action it leads to covers this change too.
func (d *debouncer) change(now time.Time) (act bool, wait time.Duration) {
	if d.pending {
		return false, 0
	}
	if d.last.IsZero() || !now.Before(d.last.Add(d.every)) {
		return true, 0
	}
	d.pending = true
	return false, d.last.Add(d.every).Sub(now)
}

// acted records an action (a resolution) begun at now; the pending one, if any, is done.
func (d *debouncer) acted(now time.Time) {
	d.last, d.pending = now, false
}

// retry records that an action failed and will be tried again at a timer the caller
// started: changes until then are gathered into it.
func (d *debouncer) retry() { d.pending = true }
