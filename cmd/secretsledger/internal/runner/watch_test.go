package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/agent"
)

// fakeFeed is a server with one consumer whose MY_KEY is value: every change moves the
// position; refuse, when set, is the status every call then gets.
type fakeFeed struct {
	mu       sync.Mutex
	resolves int
	pos      int64
	version  int // of the value: moves only when the value does
	value    string
	refuse   int
}

func (f *fakeFeed) change(value string, refuse int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pos++
	if value != f.value {
		f.version++
	}
	f.value, f.refuse = value, refuse
}

func (f *fakeFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	pos, version, value, refuse := f.pos, f.version, f.value, f.refuse
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if refuse != 0 {
		w.WriteHeader(refuse)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "refused", "details": map[string]string{"code": "EFORBIDDEN"}})
		return
	}
	switch r.URL.Path {
	case "/api/runtime/changes":
		changes := []map[string]any{}
		if s := r.URL.Query().Get("after"); s != "" {
			after, _ := strconv.ParseInt(s, 10, 64)
			if after < pos {
				changes = append(changes, map[string]any{"position": pos, "type": "secret.rotated", "streamKind": "secret", "secretId": "S"})
			} else {
				time.Sleep(20 * time.Millisecond) // a short long poll
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"position": pos, "changes": changes})
	case "/api/runtime/resolve":
		f.mu.Lock()
		f.resolves++
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"env": map[string]string{"MY_KEY": value}, "values": map[string]string{"env.MY_KEY": value},
			"manifest": []map[string]any{{"configPath": "env.MY_KEY", "envKey": "MY_KEY", "secretId": "S", "version": version, "outcome": "resolved", "required": true}}})
	default:
		http.NotFound(w, r)
	}
}

// watching runs RunWatching with a child that writes MY_KEY to OUT.<pid> and waits for
// TERM; it returns the result channel and a function that waits for a file with value.
func watching(t *testing.T, f *fakeFeed, onChange string) (<-chan [2]any, func(value string)) {
	t.Helper()
	return watchingWith(t, f, Watch{Debounce: 10 * time.Millisecond, OnChange: onChange},
		`printf %s "$MY_KEY" > "$OUT.$$"; trap "exit 0" TERM; while :; do sleep 0.05; done`, nil)
}

// watchingWith is watching with w, the child's script and a change to run's options.
func watchingWith(t *testing.T, f *fakeFeed, w Watch, script string, opts func(o *Options)) (<-chan [2]any, func(value string)) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	out := filepath.Join(t.TempDir(), "out")
	o := Options{Command: []string{"sh", "-c", script},
		AgentKey: key, Environ: []string{"PATH=" + os.Getenv("PATH"), "OUT=" + out}, Grace: 2 * time.Second}
	if opts != nil {
		opts(&o)
	}
	done := make(chan [2]any, 1)
	go func() {
		code, err := RunWatching(context.Background(), agent.New(srv.URL, key, nil), o, w)
		done <- [2]any{code, err}
	}()
	waitFor := func(value string) {
		t.Helper()
		poll(t, func() bool {
			files, _ := filepath.Glob(out + ".*")
			for _, file := range files {
				if b, err := os.ReadFile(file); err == nil && string(b) == value {
					return true
				}
			}
			return false
		}, "no child wrote %q", value)
	}
	return done, waitFor
}

// poll waits for cond, polling a condition rather than sleeping for a guess.
func poll(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf(format, args...)
}

func result(t *testing.T, done <-chan [2]any) string {
	t.Helper()
	select {
	case r := <-done:
		return fmt.Sprint(r[0], " ", r[1])
	case <-time.After(20 * time.Second):
		t.Fatal("RunWatching did not return")
		return ""
	}
}

func TestWatchRestartsThenFailsClosed(t *testing.T) {
	f := &fakeFeed{pos: 1, value: "first-value"}
	done, waitFor := watching(t, f, OnChangeRestart)
	waitFor("first-value")
	f.change("second-value", 0)
	waitFor("second-value")
	f.change("second-value", http.StatusForbidden)
	if got := result(t, done); got != fmt.Sprint(ExitFailClosed, " <nil>") {
		t.Fatalf("after a freeze: %s", got)
	}
}

func TestWatchExitsOnChange(t *testing.T) {
	f := &fakeFeed{pos: 1, value: "first-value"}
	done, waitFor := watching(t, f, OnChangeExit)
	waitFor("first-value")
	f.change("first-value", 0) // an event that changes nothing COMMAND sees
	f.change("second-value", 0)
	if got := result(t, done); got != fmt.Sprint(ExitChanged, " <nil>") {
		t.Fatalf("after a change: %s", got)
	}
}

func TestSameResolution(t *testing.T) {
	a := agent.Resolution{Env: map[string]string{"A": "1"}, Values: map[string]string{"env.A": "1"},
		Manifest: []agent.ManifestEntry{{ConfigPath: "env.A", SecretID: "S", Version: 1, Outcome: "resolved"}}}
	b := a
	b.Manifest = []agent.ManifestEntry{{ConfigPath: "env.A", SecretID: "S", Version: 2, Outcome: "resolved"}}
	if !same(a, a) || same(a, b) || same(a, agent.Resolution{Env: map[string]string{"A": "2"}, Values: a.Values, Manifest: a.Manifest}) {
		t.Fatal("same compares env, values and the version behind each path")
	}
}
