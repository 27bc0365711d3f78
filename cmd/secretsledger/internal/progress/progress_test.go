package progress

import (
	"bytes"
	"strings"
	"testing"
)

// A line started on no writer draws nothing; on a terminal it draws the count of the
// total and clears itself when done.
func TestLine(t *testing.T) {
	silent := Start(nil, "work", 10)
	silent.Add(10)
	silent.Done()

	var term bytes.Buffer
	p := Start(&term, "work", 10)
	p.Add(10)
	p.Done()
	p.Done() // a second Done is harmless
	if !strings.Contains(term.String(), "\rwork: 10/10 (100%)") || !strings.HasSuffix(term.String(), "\r\033[K") {
		t.Fatalf("progress on a terminal: %q", term.String())
	}
}
