package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/agent"
)

const key = "sla_01TEST.secret-part"

func TestChildEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/h", "LEDGER_AGENT_KEY=" + key, "COPY=x" + key + "y", "OTHER=o", "MY_KEY=old", "TZ=UTC",
		"LEDGER_TOKEN=board-token", "PAPERCLIP_SECRETS_MASTER_KEY=ab", "DATABASE_URL=postgres://u:pw@h/db", "DATABASE_MIGRATION_URL=x"}
	resolved := map[string]string{"MY_KEY": "new", "B": "b"}
	got := childEnv(base, resolved, false, key)
	want := []string{"PATH=/bin", "HOME=/h", "OTHER=o", "MY_KEY=new", "TZ=UTC", "B=b"}
	if !slices.Equal(got, want) {
		t.Errorf("inherited: %q, want %q", got, want)
	}
	got = childEnv(base, resolved, true, key)
	want = []string{"PATH=/bin", "HOME=/h", "TZ=UTC", "B=b", "MY_KEY=new"}
	if !slices.Equal(got, want) {
		t.Errorf("isolated: %q, want %q", got, want)
	}
	// A resolved entry may use a withheld name: it is the consumer's own.
	got = childEnv(base, map[string]string{"DATABASE_URL": "postgres://agent"}, false, key)
	if !slices.Contains(got, "DATABASE_URL=postgres://agent") || slices.ContainsFunc(got, func(kv string) bool {
		return strings.HasPrefix(kv, "LEDGER_TOKEN=") || strings.HasPrefix(kv, "PAPERCLIP_SECRETS_MASTER_KEY=")
	}) {
		t.Errorf("withheld credentials or the consumer's own entry: %q", got)
	}
	// A resolved entry that holds the key (or is named like its variable) is dropped too.
	got = childEnv(nil, map[string]string{AgentKeyVar: "v", "LEAK": key}, false, key)
	if len(got) != 0 {
		t.Errorf("key-bearing entries passed: %q", got)
	}
}

func TestFailures(t *testing.T) {
	manifest := []agent.ManifestEntry{
		{ConfigPath: "env.A", Outcome: "resolved", Required: true},
		{ConfigPath: "env.OPT", Outcome: "secret_deleted"},
		{ConfigPath: "env.REQ", Outcome: "provider_error", ProviderCode: "throttled", Required: true},
	}
	if got := failures(nil, manifest); !slices.Equal(got, []string{"env.REQ: provider_error (throttled)"}) {
		t.Errorf("bound: %q", got)
	}
	got := failures([]string{"env.OPT", "env.MISSING"}, manifest)
	want := []string{"env.OPT: secret_deleted", "env.REQ: provider_error (throttled)", "env.MISSING: not in the answer"}
	if !slices.Equal(got, want) {
		t.Errorf("asked: %q, want %q", got, want)
	}
}

// resolver is a stand-in for the server's resolve route.
func resolver(t *testing.T, status int, body any) *agent.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/runtime/resolve" || r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return agent.New(srv.URL, key, nil)
}

// The output seam: Wrap gets the resolved values and the streams, the child writes
// through what it returns, and done runs after the child exits.
func TestRunWrapSeam(t *testing.T) {
	api := resolver(t, 200, agent.Resolution{Env: map[string]string{"MY_KEY": "s3cret"}, Values: map[string]string{"env.MY_KEY": "s3cret"},
		Manifest: []agent.ManifestEntry{{ConfigPath: "env.MY_KEY", EnvKey: "MY_KEY", SecretKey: "my-key", Version: 2, Outcome: "resolved", Required: true}}})
	var stdout, stderr bytes.Buffer
	var seen []Secret
	closed := false
	manifest := filepath.Join(t.TempDir(), "m.json")
	code, err := Run(context.Background(), api, Options{
		Command: []string{"sh", "-c", `printf 'out %s' "$MY_KEY"; printf 'err %s' "$MY_KEY" >&2; exit 3`},
		Environ: []string{"PATH=" + os.Getenv("PATH")}, AgentKey: key, Stdout: &stdout, Stderr: &stderr, Manifest: manifest,
		Wrap: func(s []Secret, out, errw io.Writer) (io.Writer, io.Writer, func() error, error) {
			seen = s
			return maskWriter{out, "s3cret"}, maskWriter{errw, "s3cret"}, func() error { closed = true; return nil }, nil
		},
	})
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if stdout.String() != "out ***" || stderr.String() != "err ***" || !closed {
		t.Errorf("stdout %q stderr %q closed %v", stdout.String(), stderr.String(), closed)
	}
	if len(seen) != 1 || seen[0].EnvKey != "MY_KEY" || seen[0].SecretKey != "my-key" || string(seen[0].Value) != "s3cret" {
		t.Errorf("the seam got %d secrets", len(seen))
	}
	raw, _ := os.ReadFile(manifest)
	if bytes.Contains(raw, []byte("s3cret")) || !bytes.Contains(raw, []byte(`"secretKey": "my-key"`)) {
		t.Errorf("manifest %s", raw)
	}
}

type maskWriter struct {
	w     io.Writer
	value string
}

func (m maskWriter) Write(p []byte) (int, error) {
	_, err := io.WriteString(m.w, strings.ReplaceAll(string(p), m.value, "***"))
	return len(p), err
}

// A refused resolution starts nothing and says which paths failed.
func TestRunRefusedStartsNothing(t *testing.T) {
	api := resolver(t, 422, map[string]any{"error": "resolution failed: env.X: binding_missing", "details": map[string]string{"code": "EINVALID"}})
	marker := filepath.Join(t.TempDir(), "started")
	_, err := Run(context.Background(), api, Options{Command: []string{"touch", marker}, Environ: os.Environ()})
	var apiErr *agent.Error
	if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "env.X: binding_missing") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the command started: %v", err)
	}
	// An optional path asked for by name that did not resolve refuses too.
	api = resolver(t, 200, agent.Resolution{Manifest: []agent.ManifestEntry{{ConfigPath: "env.O", Outcome: "secret_deleted"}}})
	_, err = Run(context.Background(), api, Options{Command: []string{"touch", marker}, Paths: []string{"env.O"}})
	var re *ResolutionError
	if !errors.As(err, &re) || !slices.Equal(re.Failed, []string{"env.O: secret_deleted"}) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the command started: %v", err)
	}
}

// A manifest file already there, readable by others, is made 0600 before it is written.
func TestWriteManifestMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeManifest(path, Manifest{Entries: []ManifestEntry{}}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", info.Mode().Perm(), err)
	}
}

// Under --redact the manifest says per entry whether its value is masked, and why not;
// without it, and for a path with no value, it says nothing of masking.
func TestManifestMasked(t *testing.T) {
	res := agent.Resolution{Env: map[string]string{"LONG": "long-enough", "PIN": "1234"},
		Values: map[string]string{"env.LONG": "long-enough", "env.PIN": "1234"},
		Manifest: []agent.ManifestEntry{
			{ConfigPath: "env.LONG", EnvKey: "LONG", Outcome: agent.OutcomeResolved},
			{ConfigPath: "env.PIN", EnvKey: "PIN", Outcome: agent.OutcomeResolved},
			{ConfigPath: "env.GONE", EnvKey: "GONE", Outcome: "secret_deleted"},
		}}
	raw, _ := json.Marshal(newManifest(Options{Redact: true}, res))
	want := `{"entries":[{"configPath":"env.LONG","envKey":"LONG","outcome":"resolved","required":false,"masked":true},` +
		`{"configPath":"env.PIN","envKey":"PIN","outcome":"resolved","required":false,"masked":false,"maskSkippedReason":"shorter than 8 bytes"},` +
		`{"configPath":"env.GONE","envKey":"GONE","outcome":"secret_deleted","required":false}]}`
	if string(raw) != want {
		t.Fatalf("manifest %s", raw)
	}
	if raw, _ := json.Marshal(newManifest(Options{}, res)); bytes.Contains(raw, []byte("masked")) {
		t.Fatalf("without --redact: %s", raw)
	}
}
