package app

import (
	"os"
	"runtime/debug"
)

// serverGCPercent and serverMemoryLimit tune the garbage collector of the long-running
// commands: a server's live heap is small and its garbage comes fast (every request), so
// Go's default GC percent of 100 collects many times a second; 400 trades memory for
// fewer collections and a shorter latency tail (a live heap of 100–150 MB under load
// then runs in a few hundred MB), and the soft memory limit stops the trade from growing
// without bound with the heap (the collector runs more often near it; set too close to
// the working heap, it brings the latency tail back). GOGC and GOMEMLIMIT, when set, win.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 1 << 30
)

// CollectGarbageLessOften tunes the collector for a long-running command (serve, the
// load generator of bench).
func CollectGarbageLessOften() {
	// The runtime reads these from the process environment, not from config.json.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
