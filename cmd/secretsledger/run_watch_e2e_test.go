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

func decodeFeed(t *testing.T, r response) feedAnswer {
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

func watchRestartsAndFailsClosed(t *testing.T, f *runFixture) {
	board := f.tg.client(t, f.tg.token)
	out := filepath.Join(f.dir, "watched")
	cmd := f.tg.cli().command("run", "--watch", "--debounce", "100ms", "--grace", "2s", "--", "sh", "-c",
		`printf %s "$MY_KEY" > "$OUT.$$"; trap "exit 0" TERM; while :; do sleep 0.1; done`)
	cmd.Env = append(cmd.Env, append(f.agentKeyVars, "OUT="+out)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// written returns the pid of the child that wrote value, 0 for none yet.
	written := func(value string) int {
		files, _ := filepath.Glob(out + ".*")
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil && string(b) == value {
				pid, _ := strconv.Atoi(strings.TrimPrefix(filepath.Ext(file), "."))
				return pid
			}
		}
		return 0
	}
	var firstPID int
	pollUntil(t, 30*time.Second, func() string {
		files, _ := filepath.Glob(out + ".*")
		if len(files) == 1 {
			if b, err := os.ReadFile(files[0]); err == nil && len(b) > 0 {
				firstPID, _ = strconv.Atoi(strings.TrimPrefix(filepath.Ext(files[0]), "."))
				return ""
			}
		}
		return fmt.Sprintf("the first child has not written its value (%d files): %s", len(files), stderr.String())
	})
	rotated := canary("watched")
	board.must(200, "POST", "/api/secrets/"+f.secretID+"/rotate", `{"value": "`+rotated+`"}`)
	var secondPID int
	pollUntil(t, 30*time.Second, func() string {
		if secondPID = written(rotated); secondPID == 0 {
			return "no child has the rotated value: " + stderr.String()
		}
		return ""
	})
	if secondPID == firstPID || alive(firstPID) {
		t.Fatalf("the first child (%d) was not replaced by %d", firstPID, secondPID)
	}
	board.must(200, "POST", "/api/companies/"+f.company+"/consumers/agent/agent-x/freeze", `{"reason": "watch test"}`)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 77 {
			t.Fatalf("run after the freeze: %v, want exit 77; %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop after the freeze: %s", stderr.String())
	}
	if alive(secondPID) {
		t.Fatalf("the child %d outlived run", secondPID)
	}
	if strings.Contains(stderr.String(), rotated) || strings.Contains(stderr.String(), f.value) {
		t.Fatal("run printed a value")
	}
}

// alive reports whether a process pid exists.
func alive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
