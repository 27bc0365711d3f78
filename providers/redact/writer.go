package redact

import (
	"errors"
	"io"
	"sync"
)

// errClosed is what a write after Close returns.
var errClosed = errors.New("redact: write after close")

type writer struct {
	mu  sync.Mutex
	dst io.Writer
	s   scanner
	err error // the first error of dst, or errClosed; every later call returns it
}

// Write masks p and writes what is safe to write. It reports len(p) when dst took the
// output: the held-back tail counts as written, Close writes it out.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.s.feed(p)
	if err := w.writeOut(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the held-back tail. It does not close the destination.
func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		if errors.Is(w.err, errClosed) {
			return nil
		}
		return w.err
	}
	w.s.flush()
	err := w.writeOut()
	if err == nil {
		w.err = errClosed
	}
	return err
}

func (w *writer) writeOut() error {
	out := w.s.takeOut()
	if len(out) == 0 {
		return nil
	}
	if _, err := w.dst.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}
