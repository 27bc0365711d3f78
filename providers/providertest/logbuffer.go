package providertest

import (
	"bytes"
	"sync"
)

// LogBuffer is a goroutine-safe sink for a provider's logger, whose calls write from
// their own goroutines; tests read it to check that no secret reached a log line.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
