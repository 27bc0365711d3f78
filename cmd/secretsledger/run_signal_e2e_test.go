package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// watchSignalsTheSameChild: --on-change signal:HUP writes the env file at start and,
// after a rotation, rewrites it (0600) with the new value and sends HUP to the same
// child, which is not restarted. signal:NAME without --env-file, or an unknown NAME, is
// a usage error.
func watchSignalsTheSameChild(t *testing.T, f *runFixture) {
	if code, _, stderr := f.run(t, "", nil, "--watch", "--on-change", "signal:HUP", "--", "true"); code != 2 || !strings.Contains(stderr, "--env-file") {
		t.Fatalf("signal:HUP without --env-file: exit %d %s", code, stderr)
	}
	envFile := filepath.Join(t.TempDir(), "agent.env")
	if code, _, stderr := f.run(t, "", nil, "--watch", "--on-change", "signal:KILL", "--env-file", envFile, "--", "true"); code != 2 || !strings.Contains(stderr, "unknown signal") {
		t.Fatalf("signal:KILL: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Fatalf("a refused run wrote the env file: %v", err)
	}
	hup := filepath.Join(t.TempDir(), "hup")
	w := startWatchWith(t, f.tg.cli(), f.keyX, []string{"--on-change", "signal:HUP", "--env-file", envFile},
		`trap '. "$ENV_FILE"; printf %s "$MY_KEY" > "$HUP.$$"' HUP; `, []string{"ENV_FILE=" + envFile, "HUP=" + hup})
	pid := w.child(t, "")
	if raw, err := os.ReadFile(envFile); err != nil || !strings.HasPrefix(string(raw), "MY_KEY='canary-") {
		t.Fatalf("the env file at start: %v", err) // never print the file: it holds a value
	}
	rotated := canary("signalled")
	f.tg.client(t, f.tg.token).must(200, "POST", "/api/secrets/"+f.secretID+"/rotate", `{"value": "`+rotated+`"}`)
	pollUntil(t, 30*time.Second, func() string {
		b, err := os.ReadFile(hup + "." + strconv.Itoa(pid))
		if err == nil && string(b) == rotated && strings.Contains(w.stderr.String(), "COMMAND sent HUP") {
			return ""
		}
		return "the first child did not get HUP with the new value in the env file: " + w.stderr.String()
	})
	info, err := os.Stat(envFile)
	raw, _ := os.ReadFile(envFile)
	if err != nil || info.Mode().Perm() != 0o600 || string(raw) != "MY_KEY='"+rotated+"'\n" {
		t.Fatalf("the env file after the rotation: mode %v, holds the new value %v (%v)", info.Mode().Perm(), string(raw) == "MY_KEY='"+rotated+"'\n", err)
	}
	if files, _ := filepath.Glob(w.out + ".*"); len(files) != 1 || !alive(pid) {
		t.Fatalf("the child was restarted: %d children, the first alive %v", len(files), alive(pid))
	}
	if strings.Contains(w.stderr.String(), rotated) {
		t.Fatalf("run's stderr: %s", w.stderr.String())
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM) // forwarded; the child exits 0 on TERM
	select {
	case err := <-w.exited:
		if err != nil {
			t.Fatalf("run after TERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop on TERM")
	}
}

// runManifestSaysMasked: under --redact the manifest says which values are masked, and
// why one is not (shorter than 8 bytes).
func runManifestSaysMasked(t *testing.T, f *runFixture) {
	board := f.tg.client(t, f.tg.token)
	for name, value := range map[string]string{"S_LONG": canary("long"), "S_PIN": "4711"} {
		id := board.must(201, "POST", "/api/companies/"+f.company+"/secrets", `{"name": "`+name+`", "value": "`+value+`"}`).json(t)["id"].(string)
		board.must(201, "POST", "/api/companies/"+f.company+"/secret-bindings", `{"secretId": "`+id+
			`", "targetType": "agent", "targetId": "agent-s", "configPath": "env.`+name+`"}`)
	}
	key := board.must(201, "POST", "/api/companies/"+f.company+"/agent-keys", `{"targetType": "agent", "targetId": "agent-s"}`).json(t)["token"].(string)
	path := filepath.Join(t.TempDir(), "manifest.json")
	code, _, stderr := f.tg.runInput(t, []string{"LEDGER_AGENT_KEY=" + key}, "", "run", "--redact", "--manifest", path, "--", "true")
	if code != 0 || !strings.Contains(stderr, "not masked (shorter than 8 bytes)") {
		t.Fatalf("exit %d %s", code, stderr)
	}
	raw, _ := os.ReadFile(path)
	var m struct {
		Entries []struct {
			ConfigPath        string
			Masked            *bool
			MaskSkippedReason string
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Entries) != 2 || strings.Contains(string(raw), "4711") {
		t.Fatalf("manifest: %v %s", err, raw)
	}
	for _, e := range m.Entries {
		long := e.ConfigPath == "env.S_LONG"
		if e.Masked == nil || *e.Masked != long || (e.MaskSkippedReason == "shorter than 8 bytes") == long {
			t.Errorf("%s: masked %v, reason %q", e.ConfigPath, e.Masked, e.MaskSkippedReason)
		}
	}
	// Without --redact the manifest says nothing of masking.
	if code, _, stderr := f.tg.runInput(t, []string{"LEDGER_AGENT_KEY=" + key}, "", "run", "--manifest", path, "--", "true"); code != 0 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	if raw, _ := os.ReadFile(path); strings.Contains(string(raw), "masked") {
		t.Fatalf("manifest without --redact: %s", raw)
	}
}
