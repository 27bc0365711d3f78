package runner

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a clock whose timers fire when the test says.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	waits  []time.Duration
	timers []chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waits, c.timers = append(c.waits, d), append(c.timers, ch)
	return ch
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (f *fakeFeed) resolved() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resolves
}

// Under --watch a change after a quiet period restarts COMMAND at once; one within
// --debounce of that waits for a timer, and nothing is resolved until it fires.
func TestWatchPacesChanges(t *testing.T) {
	f := &fakeFeed{pos: 1, value: "first-value"}
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	done, waitFor := watchingWith(t, f, Watch{Debounce: time.Hour, OnChange: OnChangeRestart, clock: clk},
		`printf %s "$MY_KEY" > "$OUT.$$"; trap "exit 0" TERM; while :; do sleep 0.05; done`, nil)
	waitFor("first-value")
	clk.advance(2 * time.Hour) // quiet since the start
	f.change("second-value", 0)
	waitFor("second-value")
	if clk.pending() != 0 {
		t.Fatalf("the first change waited for a timer (%v)", clk.waits)
	}
	resolves := f.resolved()
	clk.advance(time.Minute)
	f.change("third-value", 0)
	poll(t, func() bool { return clk.pending() == 1 }, "no timer for a change within --debounce")
	if clk.waits[0] != 59*time.Minute || f.resolved() != resolves {
		t.Fatalf("timer %v, resolutions %d then %d: the change was not held to --debounce", clk.waits[0], resolves, f.resolved())
	}
	clk.advance(59 * time.Minute)
	clk.timers[0] <- clk.Now()
	waitFor("third-value")
	f.change("third-value", 401)
	if got := result(t, done); got != fmt.Sprint(ExitFailClosed, " <nil>") {
		t.Fatalf("after a revocation: %s", got)
	}
}

// safeBuffer is a bytes.Buffer the child's output goroutines and the test share.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --on-change signal:HUP: the env file is rewritten (0600) and the same child gets HUP;
// under --redact its output stays masked of the old value and the new one.
func TestWatchSignalsTheSameChild(t *testing.T) {
	f := &fakeFeed{pos: 1, value: "first-value"}
	envFile := filepath.Join(t.TempDir(), "agent.env")
	var stdout safeBuffer
	var out string // the child writes $MY_KEY to out.<pid>, and after HUP to out.<pid>.hup
	script := `trap '. "$ENV_FILE"; printf %s "$MY_KEY" > "$OUT.$$.hup"; echo "old=$OLD new=$MY_KEY"' HUP
OLD="$MY_KEY"; printf %s "$MY_KEY" > "$OUT.$$"; trap "exit 0" TERM; while :; do sleep 0.05; done`
	done, waitFor := watchingWith(t, f, Watch{Debounce: 10 * time.Millisecond, OnChange: OnChangeSignal, Signal: syscall.SIGHUP}, script,
		func(o *Options) {
			out = strings.TrimPrefix(o.Environ[1], "OUT=")
			o.EnvFile, o.Redact, o.Stdout = envFile, true, &stdout
			o.Environ = append(o.Environ, "ENV_FILE="+envFile)
		})
	waitFor("first-value")
	if b, err := os.ReadFile(envFile); err != nil || string(b) != "MY_KEY='first-value'\n" {
		t.Fatalf("the env file at start: %q %v", b, err)
	}
	f.change("second-value", 0)
	waitFor("second-value")
	files, _ := filepath.Glob(out + ".*")
	if len(files) != 2 || files[0]+".hup" != files[1] {
		t.Fatalf("not the same child: %v", files)
	}
	info, err := os.Stat(envFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("env file mode %v %v", info.Mode().Perm(), err)
	}
	poll(t, func() bool { return strings.HasSuffix(stdout.String(), "\n") }, "the child printed no line after HUP")
	if out := stdout.String(); out != "old=[REDACTED:MY_KEY] new=[REDACTED:MY_KEY]\n" {
		t.Fatalf("output after HUP: %q", out)
	}
	f.change("second-value", 403)
	if got := result(t, done); got != fmt.Sprint(ExitFailClosed, " <nil>") {
		t.Fatalf("after a freeze: %s", got)
	}
}

// The env file: KEY='value' lines a shell reads back as they were, the agent key left
// out, mode 0600 over a wider file, and a name a shell cannot assign refused.
func TestEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"A": `it's "quoted" $HOME \n`, "B": "line one\nline two", "C": "", "LEAK": "x" + key, AgentKeyVar: key}
	if err := WriteEnvFile(path, env, key); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", info.Mode().Perm(), err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(key)) {
		t.Fatal("the agent key is in the env file")
	}
	out, err := exec.Command("sh", "-c", `set -a; . "$1"; printf '%s|%s|%s|%s' "$A" "$B" "$C" "${LEAK-unset}"`, "sh", path).Output()
	if err != nil || string(out) != env["A"]+"|"+env["B"]+"||unset" {
		t.Fatalf("read back: %q %v (file %q)", out, err, raw)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := WriteEnvFile(path, map[string]string{"NOT-A-NAME": "v"}, key); err == nil || strings.Contains(err.Error(), `"v"`) {
		t.Fatalf("a bad name: %v", err)
	}
}

func TestParseOnChange(t *testing.T) {
	for in, want := range map[string]string{"restart": "restart 0", "exit": "exit 0", "signal:HUP": "signal 1",
		"signal:sigusr1": fmt.Sprint("signal ", int(syscall.SIGUSR1)), "signal:USR2": fmt.Sprint("signal ", int(syscall.SIGUSR2))} {
		action, sig, err := ParseOnChange(in)
		if err != nil || fmt.Sprint(action, " ", int(sig)) != want {
			t.Errorf("%s: %s %d %v", in, action, sig, err)
		}
	}
	for _, in := range []string{"signal:", "signal:KILL", "signal:NOPE", "reload", "signal"} {
		if _, _, err := ParseOnChange(in); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}
