package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunWatch covers the change feed and `run --watch` over it: a rotation reaches the
// bound consumer and no other, a watched COMMAND restarts with the new value, and a
// freeze stops it and run with ExitFailClosed (77).
func TestRunWatch(t *testing.T) {
	f := newRunFixture(t)
	t.Run("the change feed is the consumer's own", func(t *testing.T) { feedIsTheConsumers(t, f) })
	t.Run("run --watch --on-change signal:HUP rewrites the env file and signals the same child", func(t *testing.T) { watchSignalsTheSameChild(t, f) })
	t.Run("no other consumer's or company's binding, key or freeze", func(t *testing.T) { feedLeavesOthersEvents(t, f) })
	t.Run("run --watch restarts on a rotation and stops on a freeze", func(t *testing.T) { watchRestartsAndFailsClosed(t, f) })
}

type feedAnswer struct {
	Position int64 `json:"position"`
	Changes  []struct {
		Position   int64  `json:"position"`
		Type       string `json:"type"`
		StreamKind string `json:"streamKind"`
		SecretID   string `json:"secretId"`
	} `json:"changes"`
}

func decodeFeed(t testing.TB, r response) feedAnswer {
	t.Helper()
	var a feedAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("feed answer %q: %v", r.body, err)
	}
	return a
}

func feedIsTheConsumers(t *testing.T, f *runFixture) {
	board := f.tg.client(t, f.tg.token)
	agent := f.tg.client(t, f.keyX)
	_, otherCompany := f.tg.companies()
	// A secret bound to agent-z only, and one of the other company.
	zOnly := board.must(201, "POST", "/api/companies/"+f.company+"/secrets", `{"name": "Z_ONLY", "value": "`+canary("z")+`"}`).json(t)["id"].(string)
	board.must(201, "POST", "/api/companies/"+f.company+"/secret-bindings", `{"secretId": "`+zOnly+
		`", "targetType": "agent", "targetId": "agent-z", "configPath": "env.Z", "versionSelector": "latest"}`)
	other := board.must(201, "POST", "/api/companies/"+otherCompany+"/secrets", `{"name": "OTHER", "value": "`+canary("o")+`"}`).json(t)["id"].(string)
	head := decodeFeed(t, agent.must(200, "GET", "/api/runtime/changes", ""))
	if head.Position <= 0 || len(head.Changes) != 0 {
		t.Fatalf("head answer %+v", head)
	}
	board.must(200, "POST", "/api/secrets/"+zOnly+"/rotate", `{"value": "`+canary("z2")+`"}`)
	board.must(200, "POST", "/api/secrets/"+other+"/rotate", `{"value": "`+canary("o2")+`"}`)
	none := decodeFeed(t, agent.must(200, "GET", "/api/runtime/changes?after="+strconv.FormatInt(head.Position, 10)+"&wait=1", ""))
	if len(none.Changes) != 0 || none.Position <= head.Position {
		t.Fatalf("another consumer's and another company's rotations reached agent-x: %+v", none)
	}
	// A long poll from there answers agent-x's rotation (started on its own goroutine
	// before or after the rotation: either way the answer covers it).
	answered := make(chan response, 1)
	go func() {
		r, err := agent.try("GET", "/api/runtime/changes?after="+strconv.FormatInt(none.Position, 10)+"&wait=30", "")
		if err != nil {
			r = response{status: -1, body: []byte(err.Error())}
		}
		answered <- r
	}()
	rotated := canary("rotated")
	board.must(200, "POST", "/api/secrets/"+f.secretID+"/rotate", `{"value": "`+rotated+`"}`)
	var r response
	select {
	case r = <-answered:
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not answer the rotation")
	}
	if r.status != 200 || bytes.Contains(r.body, []byte(rotated)) {
		t.Fatalf("long poll: %d %s", r.status, r.body)
	}
	got := decodeFeed(t, r)
	if len(got.Changes) == 0 || got.Changes[0].StreamKind != "secret" || got.Changes[0].SecretID != f.secretID || got.Position < got.Changes[0].Position {
		t.Fatalf("long poll answer %+v", got)
	}
	agent.must(422, "GET", "/api/runtime/changes?after=1&wait=31", "")
	board.must(403, "GET", "/api/runtime/changes", "")
}

// watchedRun is a `run --watch` of a child that writes MY_KEY to OUT.<pid> and exits 0
// on TERM.
type watchedRun struct {
	cmd    *exec.Cmd
	out    string
	exited chan error
	stderr *bytes.Buffer
}

func startWatch(t *testing.T, e *instanceEnv, key string) *watchedRun {
	t.Helper()
	return startWatchWith(t, e, key, nil, "", nil)
}

// startWatchWith is startWatch with more of run's flags, a script run before the child's
// own (its traps) and more variables.
func startWatchWith(t *testing.T, e *instanceEnv, key string, flags []string, script string, vars []string) *watchedRun {
	t.Helper()
	w := &watchedRun{out: filepath.Join(t.TempDir(), "watched"), exited: make(chan error, 1), stderr: &bytes.Buffer{}}
	args := append(append([]string{"run", "--watch", "--debounce", "100ms", "--grace", "2s"}, flags...), "--", "sh", "-c",
		script+`printf %s "$MY_KEY" > "$OUT.$$"; trap "exit 0" TERM; while :; do sleep 0.1; done`)
	cmd := e.command(args...)
	cmd.Env = append(append(cmd.Env, "LEDGER_AGENT_KEY="+key, "OUT="+w.out), vars...)
	cmd.Stderr = w.stderr
	w.cmd = cmd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return w
}

// child waits for a child that wrote value ("": any value) and returns its pid.
func (w *watchedRun) child(t *testing.T, value string) int {
	t.Helper()
	var pid int
	pollUntil(t, 30*time.Second, func() string {
		files, _ := filepath.Glob(w.out + ".*")
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil && len(b) > 0 && (value == "" || string(b) == value) {
				pid, _ = strconv.Atoi(strings.TrimPrefix(filepath.Ext(file), "."))
				return ""
			}
		}
		return fmt.Sprintf("no child wrote the value (%d files): %s", len(files), w.stderr.String())
	})
	return pid
}

// failsClosed waits for run to exit 77 and checks that the child is gone.
func (w *watchedRun) failsClosed(t *testing.T, pid int, values ...string) {
	t.Helper()
	select {
	case err := <-w.exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 77 {
			t.Fatalf("run: %v, want exit 77; %s", err, w.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop: %s", w.stderr.String())
	}
	if alive(pid) {
		t.Fatalf("the child %d outlived run", pid)
	}
	for _, v := range values {
		if strings.Contains(w.stderr.String(), v) {
			t.Fatal("run printed a value")
		}
	}
}

func watchRestartsAndFailsClosed(t *testing.T, f *runFixture) {
	board := f.tg.client(t, f.tg.token)
	w := startWatch(t, f.tg.cli(), f.keyX)
	firstPID := w.child(t, "")
	rotated := canary("watched")
	board.must(200, "POST", "/api/secrets/"+f.secretID+"/rotate", `{"value": "`+rotated+`"}`)
	secondPID := w.child(t, rotated)
	if secondPID == firstPID || alive(firstPID) {
		t.Fatalf("the first child (%d) was not replaced by %d", firstPID, secondPID)
	}
	board.must(200, "POST", "/api/companies/"+f.company+"/consumers/agent/agent-x/freeze", `{"reason": "watch test"}`)
	w.failsClosed(t, secondPID, rotated, f.value)
}

// TestRunWatchAcrossTwoProcesses: run --watch follows one serve while the secret is
// rotated, then its key revoked, through another over the same database.
func TestRunWatchAcrossTwoProcesses(t *testing.T) {
	p1, p2, _, _, token := twoProcesses(t)
	board2 := p2.client(t, token)
	value := canary("two")
	sid := board2.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "TWO", "value": "`+value+`"}`).json(t)["id"].(string)
	board2.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings", `{"secretId": "`+sid+
		`", "targetType": "agent", "targetId": "agent-w", "configPath": "env.MY_KEY"}`)
	key := board2.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-w"}`).json(t)
	w := startWatch(t, p1, key["token"].(string))
	w.child(t, value)
	rotated := canary("two-rotated")
	board2.must(200, "POST", "/api/secrets/"+sid+"/rotate", `{"value": "`+rotated+`"}`)
	pid := w.child(t, rotated)
	board2.must(200, "DELETE", "/api/agent-keys/"+key["id"].(string), "")
	w.failsClosed(t, pid, value, rotated)
}

// alive reports whether a process pid exists.
func alive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
