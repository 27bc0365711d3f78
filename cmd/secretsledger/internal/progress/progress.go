package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// every throttles progress lines: a terminal needs no more.
const every = 200 * time.Millisecond

// Line is one line on a terminal (stderr), rewritten in place with \r while long work
// runs: the count of a known total, or the time elapsed. A Line started on no writer
// writes nothing, so logs and pipes never see it.
type Line struct {
	mu      sync.Mutex
	w       io.Writer // nil: silent
	label   string
	total   int64
	n       int64
	start   time.Time
	last    time.Time
	stop    chan struct{}
	stopped chan struct{}
}

// Start starts a progress line on w, a terminal, or a silent one when w is nil; total
// 0 shows the time elapsed (work that cannot count). Call Done when the work ends.
func Start(w io.Writer, label string, total int64) *Line {
	p := &Line{label: label, total: total, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if w == nil {
		close(p.stopped)
		return p
	}
	p.w = w
	go func() { // redraws the elapsed time even while nothing is counted
		defer close(p.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// Add counts n more units of work.
func (p *Line) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	if p.w != nil && time.Since(p.last) >= every {
		p.draw()
	}
}

func (p *Line) draw() {
	p.last = time.Now()
	elapsed := time.Since(p.start).Truncate(100 * time.Millisecond)
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r%s: %d/%d (%d%%) %s ", p.label, p.n, p.total, p.n*100/p.total, elapsed)
		return
	}
	fmt.Fprintf(p.w, "\r%s… %s ", p.label, elapsed)
}

// Done ends the line (cleared, so that the result printed next stands alone).
func (p *Line) Done() {
	if p.w == nil {
		return
	}
	select {
	case <-p.stop:
		return
	default:
		close(p.stop)
	}
	<-p.stopped
	fmt.Fprint(p.w, "\r\033[K")
}
