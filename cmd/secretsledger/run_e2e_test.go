package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runFixture is a server with one consumer (agent-x) bound to a secret at env.MY_KEY, its
// agent key, and another (agent-z) whose one binding's secret is deleted.
type runFixture struct {
	tg           *apiTarget
	value        string
	company      string // agent-x's and agent-z's
	secretID     string // bound to agent-x at env.MY_KEY
	keyX, keyZ   string
	dir          string
	agentKeyVars []string
}

func newRunFixture(t *testing.T) *runFixture {
	t.Helper()
	tg := onOneProcess(t)
	companyA, _ := tg.companies()
	board := tg.client(t, tg.token)
	value := canary("run")
	sid := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "RUN", "value": "`+value+`"}`).json(t)["id"].(string)
	bind := func(secret, target, path string) {
		board.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings", `{"secretId": "`+secret+`", "targetType": "agent", "targetId": "`+
			target+`", "configPath": "`+path+`", "versionSelector": "latest"}`)
	}
	bind(sid, "agent-x", "env.MY_KEY")
	gone := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "GONE", "value": "`+canary("gone")+`"}`).json(t)["id"].(string)
	bind(gone, "agent-z", "env.GONE")
	board.must(200, "DELETE", "/api/secrets/"+gone, "")
	issue := func(target string) string {
		return board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "`+target+`"}`).json(t)["token"].(string)
	}
	f := &runFixture{tg: tg, value: value, company: companyA, secretID: sid, keyX: issue("agent-x"), keyZ: issue("agent-z"), dir: t.TempDir()}
	f.agentKeyVars = []string{"LEDGER_AGENT_KEY=" + f.keyX}
	return f
}

// run runs `secretsledger run` with agent-x's key in LEDGER_AGENT_KEY and extra vars.
func (f *runFixture) run(t *testing.T, stdin string, vars []string, args ...string) (int, string, string) {
	t.Helper()
	return f.tg.runInput(t, append(append([]string{}, f.agentKeyVars...), vars...), stdin, append([]string{"run"}, args...)...)
}

// envVars parses `env` output into its variables.
func envVars(out string) map[string]string {
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// The runtime wrapper on the real binary: env, streams and exit status pass through;
// a failed binding stops it before the command starts; the agent key never reaches the
// child; the manifest holds no value; TERM is forwarded and an unheeding child killed.
func TestRunCommand(t *testing.T) {
	f := newRunFixture(t)
	t.Run("env, streams and exit status", func(t *testing.T) { runPassesEnvAndStatus(t, f) })
	t.Run("refused before start", func(t *testing.T) { runRefusesBeforeStart(t, f) })
	t.Run("agent key kept from the child", func(t *testing.T) { runKeepsAgentKey(t, f) })
	t.Run("manifest", func(t *testing.T) { runWritesManifest(t, f) })
	t.Run("signals", func(t *testing.T) { runForwardsSignals(t, f) })
	t.Run("redact", func(t *testing.T) { runRedactsOutput(t, f) })
	t.Run("manifest says what is masked", func(t *testing.T) { runManifestSaysMasked(t, f) })
}

// runRedactsOutput: with --redact the value reaches neither stream, written in two
// pieces or base64-encoded; without it, the same script shows it (so the check can fail).
func runRedactsOutput(t *testing.T, f *runFixture) {
	script := `v="$MY_KEY"; h=${v%"${v#????}"}; printf %s "$h"; printf '%s\n' "${v#????}"; printf %s "$v" | base64 >&2`
	b64 := base64.StdEncoding.EncodeToString([]byte(f.value))
	code, stdout, stderr := f.run(t, "", nil, "--", "sh", "-c", script)
	if code != 0 || !strings.Contains(stdout, f.value) || !strings.Contains(stderr, b64) {
		t.Fatalf("without --redact: exit %d, the value in stdout %v, its base64 in stderr %v", code,
			strings.Contains(stdout, f.value), strings.Contains(stderr, b64))
	}
	code, stdout, stderr = f.run(t, "", nil, "--redact", "--", "sh", "-c", script)
	if code != 0 || strings.Contains(stdout+stderr, f.value) || strings.Contains(stderr, b64) {
		t.Fatalf("with --redact: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "[REDACTED:") || !strings.HasPrefix(stderr, "[REDACTED:") {
		t.Fatalf("with --redact: no mask naming the key: stdout %q, stderr %q", stdout, stderr)
	}
}

func runPassesEnvAndStatus(t *testing.T, f *runFixture) {
	out := filepath.Join(f.dir, "value")
	code, stdout, stderr := f.run(t, "from stdin", nil, "--run-id", "run-7", "--", "sh", "-c", `printf %s "$MY_KEY" > "$1"; cat; echo to-stderr >&2; exit 7`, "sh", out)
	if code != 7 || stdout != "from stdin" || stderr != "to-stderr\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != f.value {
		t.Fatalf("the child's MY_KEY is not the value (%v)", err)
	}
	// A child ended by a signal: 128+n, as a shell reports it.
	if code, _, stderr := f.run(t, "", nil, "--path", "env.MY_KEY", "--", "sh", "-c", "kill -TERM $$"); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("child killed by TERM: exit %d %s", code, stderr)
	}
	if code, _, stderr := f.run(t, "", nil, "--", "true"); code != 0 || stderr != "" {
		t.Fatalf("true: exit %d %s", code, stderr)
	}
	// No key: a usage error, nothing resolved, nothing started.
	marker := filepath.Join(f.dir, "nokey")
	if code, _, stderr := f.tg.run(t, "run", "--", "touch", marker); code != 2 || !strings.Contains(stderr, "LEDGER_AGENT_KEY") {
		t.Fatalf("without a key: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the command ran without a key: %v", err)
	}
}

func runRefusesBeforeStart(t *testing.T, f *runFixture) {
	for _, tc := range []struct {
		name       string
		vars, args []string
		path, code string
	}{
		{"asked path without binding", nil, []string{"--path", "env.MY_KEY", "--path", "env.NOPE"}, "env.NOPE", "binding_missing"},
		{"bound secret deleted", []string{"LEDGER_AGENT_KEY=" + f.keyZ}, nil, "env.GONE", "secret_deleted"},
	} {
		marker := filepath.Join(f.dir, "started-"+strings.ReplaceAll(tc.name, " ", "-"))
		args := append(append([]string{}, tc.args...), "--", "touch", marker)
		code, stdout, stderr := f.run(t, "", tc.vars, args...)
		if code != 1 || !strings.Contains(stderr, tc.path) || !strings.Contains(stderr, tc.code) {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, stderr)
		}
		if strings.Contains(stdout+stderr, f.value) {
			t.Errorf("%s: a value was printed", tc.name)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Errorf("%s: the command started (%v)", tc.name, err)
		}
	}
}

func runKeepsAgentKey(t *testing.T, f *runFixture) {
	// A copy of the key in another variable is kept out too.
	vars := []string{"KEY_COPY=" + f.keyX, "LANG=C.UTF-8", "SOMETHING_ELSE=kept"}
	code, out, stderr := f.run(t, "", vars, "--", "env")
	if code != 0 {
		t.Fatalf("env: exit %d %s", code, stderr)
	}
	got := envVars(out)
	if strings.Contains(out, f.keyX) || got["MY_KEY"] != f.value || got["SOMETHING_ELSE"] != "kept" || got["LEDGER_HOME"] == "" {
		t.Fatalf("inherited env: key present %v, MY_KEY resolved %v, variables %d",
			strings.Contains(out, f.keyX), got["MY_KEY"] == f.value, len(got))
	}
	code, out, stderr = f.run(t, "", vars, "--isolated", "--", "env")
	if code != 0 {
		t.Fatalf("env --isolated: exit %d %s", code, stderr)
	}
	got = envVars(out)
	if strings.Contains(out, f.keyX) || got["MY_KEY"] != f.value || got["LANG"] != "C.UTF-8" || got["PATH"] == "" {
		t.Fatalf("isolated env: key present %v, MY_KEY resolved %v", strings.Contains(out, f.keyX), got["MY_KEY"] == f.value)
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "TERM": true, "TZ": true, "MY_KEY": true}
	for k := range got {
		if !allowed[k] {
			t.Errorf("isolated child got %s", k)
		}
	}
	// The key read from a file never reaches the child either.
	keyFile := filepath.Join(f.dir, "agent.key")
	if err := os.WriteFile(keyFile, []byte(f.keyX+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = f.tg.runWith(t, []string{"KEY_COPY=" + f.keyX}, "run", "--agent-key-file", keyFile, "--", "env")
	if code != 0 || strings.Contains(out, f.keyX) || envVars(out)["MY_KEY"] != f.value {
		t.Fatalf("--agent-key-file: exit %d, key present %v %s", code, strings.Contains(out, f.keyX), stderr)
	}
}

func runWritesManifest(t *testing.T, f *runFixture) {
	path := filepath.Join(f.dir, "manifest.json")
	if code, _, stderr := f.run(t, "", nil, "--manifest", path, "--issue-id", "iss-1", "--", "true"); code != 0 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("manifest mode %v", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(f.value)) {
		t.Fatal("the manifest holds the value")
	}
	var m struct {
		IssueID string `json:"issueId"`
		Entries []struct {
			ConfigPath, EnvKey, SecretKey, Outcome string
			Version                                int64
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.IssueID != "iss-1" || len(m.Entries) != 1 || m.Entries[0].ConfigPath != "env.MY_KEY" || m.Entries[0].EnvKey != "MY_KEY" ||
		m.Entries[0].Outcome != "resolved" || m.Entries[0].Version != 1 {
		t.Fatalf("manifest %s", raw)
	}
}

func runForwardsSignals(t *testing.T, f *runFixture) {
	start := func(script string, extra ...string) (*exec.Cmd, string, *bytes.Buffer) {
		t.Helper()
		ready := filepath.Join(f.dir, "ready-"+filepath.Base(t.TempDir()))
		e := f.tg.cli()
		args := append(append([]string{"run"}, extra...), "--", "sh", "-c", script, "sh", ready)
		cmd := e.command(args...)
		cmd.Env = append(cmd.Env, f.agentKeyVars...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		pollUntil(t, 30*time.Second, func() string {
			if _, err := os.Stat(ready); err != nil {
				return "the child is not ready: " + stderr.String()
			}
			return ""
		})
		return cmd, ready, &stderr
	}
	exitOf := func(cmd *exec.Cmd) int {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	// The child traps TERM, notes it and exits 0.
	cmd, ready, stderr := start(`trap 'echo trapped > "$1.term"; exit 0' TERM; : > "$1"; while :; do sleep 0.05; done`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitOf(cmd); code != 0 {
		t.Fatalf("trapping child: exit %d %s", code, stderr)
	}
	if b, err := os.ReadFile(ready + ".term"); err != nil || string(b) != "trapped\n" {
		t.Fatalf("the child did not get TERM: %v", err)
	}
	// A child that ignores TERM is killed after --grace.
	cmd, _, stderr = start(`trap '' TERM; : > "$1"; while :; do sleep 0.05; done`, "--grace", "500ms")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitOf(cmd); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("unheeding child: exit %d %s", code, stderr)
	}
}
