package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runCLI runs the command line in process, with stdin a pipe holding stdin and no
// terminal anywhere, and returns the exit code and output.
func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		if k == "LEDGER_HOME" || k == "HOME" {
			return t.TempDir()
		}
		return ""
	}
	env := newEnvironment(getenv, strings.NewReader(stdin), &stdout, &stderr)
	code := run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// commandPaths lists every command of the tree, groups included, as argument lists.
func commandPaths() [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" {
				continue
			}
			p := append(append([]string{}, path...), sub.Name())
			out = append(out, p)
			walk(sub, p)
		}
	}
	walk(newRootCmd(newEnvironment(func(string) string { return "" }, nil, nil, nil)), nil)
	return out
}

func findCommand(path []string) *cobra.Command {
	c, _, err := newRootCmd(newEnvironment(func(string) string { return "" }, nil, nil, nil)).Find(path)
	if err != nil {
		panic(err)
	}
	return c
}

// Every command and verb answers --help with exit 0 and names its flags with the --
// spelling; bad usage exits 2 before anything runs.
func TestCLIHelpAndUsage(t *testing.T) {
	t.Parallel()
	paths := commandPaths()
	if len(paths) < 35 {
		t.Fatalf("only %d commands in the tree", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			t.Parallel()
			cmd := findCommand(path)
			code, out, errOut := runCLI(t, nil, "", append(path, "--help")...)
			if code != 0 || !strings.Contains(out, "Usage:") {
				t.Fatalf("--help: exit %d\n%s\n%s", code, out, errOut)
			}
			cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if f.Hidden || f.Deprecated != "" {
					if strings.Contains(out, "--"+f.Name+" ") {
						t.Errorf("--help shows the hidden flag --%s", f.Name)
					}
					return
				}
				if !strings.Contains(out, "--"+f.Name) {
					t.Errorf("--help does not mention --%s:\n%s", f.Name, out)
				}
				if len(f.Name) > 1 && strings.Contains(out, " -"+f.Name) {
					t.Errorf("--help spells -%s with one dash:\n%s", f.Name, out)
				}
			})
			if code, _, errOut := runCLI(t, nil, "", append(path, "--no-such-flag")...); code != 2 || !strings.Contains(errOut, "unknown flag") {
				t.Errorf("unknown flag: exit %d %s", code, errOut)
			}
			if cmd.HasSubCommands() || path[0] == "completion" {
				if path[0] != "completion" {
					code, _, errOut := runCLI(t, nil, "", path...)
					if code != 2 || !strings.Contains(errOut, "Available Commands") {
						t.Errorf("group without a verb: exit %d %s", code, errOut)
					}
					code, _, errOut = runCLI(t, nil, "", append(path, cmd.Commands()[0].Name()+"x")...)
					if code != 2 || !strings.Contains(errOut, "Did you mean this?") {
						t.Errorf("mistyped verb: exit %d %s", code, errOut)
					}
				}
				return
			}
			// Too many arguments, and each required flag missing.
			if code, _, errOut := runCLI(t, nil, "", append(path, "x1", "x2", "x3")...); code != 2 {
				t.Errorf("extra arguments: exit %d %s", code, errOut)
			}
			args := path
			for _, a := range []string{"ARG1", "ARG2"} {
				if cmd.Args == nil || cmd.Args(cmd, args[len(path):]) == nil {
					break
				}
				args = append(args, a)
			}
			cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if _, required := f.Annotations[cobra.BashCompOneRequiredFlag]; required {
					code, _, errOut := runCLI(t, nil, "", args...)
					if code != 2 || !strings.Contains(errOut, "required flag") {
						t.Errorf("without --%s: exit %d %s", f.Name, code, errOut)
					}
				}
			})
		})
	}
}

func TestCLIRootUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout, or stderr for exit 2
	}{
		{nil, 2, "Available Commands"},
		{[]string{"--version"}, 0, "secretsledger "},
		{[]string{"--help"}, 0, "LEDGER_HTTP_ADDR"},
		{[]string{"help", "secrets"}, 0, "purge"},
		{[]string{"secrest"}, 2, "secretsledger secrets"},
		{[]string{"completion", "bash"}, 0, "secretsledger"},
		{[]string{"completion", "zsh"}, 0, "secretsledger"},
		{[]string{"completion", "fish"}, 0, "secretsledger"},
		{[]string{"token", "create", "--help"}, 0, "--board"}, // the old name is an alias
		{[]string{"secrets", "list"}, 2, "--company"},
		{[]string{"secrets", "list", "-C", "c", "--output", "yaml"}, 2, "table or json"},
		{[]string{"bench", "--scenario", "nope"}, 2, "unknown scenario"},
		{[]string{"secrets", "purge", "s1", "--confirm", "s2"}, 2, "repeat the secret's id"},
		{[]string{"access-events", "list"}, 2, "--company"},
		{[]string{"consumers", "env", "set", "-C", "c", "--target-type", "agent", "--target-id", "a", "--plain", "K=UNSET_VAR"}, 2, "UNSET_VAR"},
		{[]string{"consumers", "env", "set", "-C", "c", "--target-type", "agent", "--target-id", "a"}, 2, `{"env"`},
		{[]string{"secrets", "migrate-inline-env"}, 2, "--company"},
	} {
		code, out, errOut := runCLI(t, map[string]string{"LEDGER_TOKEN": "slb_x", "LEDGER_URL": "http://127.0.0.1:1"}, "", tc.args...)
		where := out
		if tc.code == 2 {
			where = errOut
		}
		if code != tc.code || !strings.Contains(where, tc.out) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout %s\nstderr %s", tc.args, code, tc.code, tc.out, out, errOut)
		}
	}
}

// The deprecated --company-id still names the company of migrate-inline-env.
func TestCompanyIDAlias(t *testing.T) {
	t.Parallel()
	var o migrateInlineEnvOptions
	c := newMigrateInlineEnvCmd(newEnvironment(func(string) string { return "" }, nil, nil, nil))
	c.RunE = func(*cobra.Command, []string) error { o.company, _ = c.Flags().GetString("company"); return nil }
	c.SetArgs([]string{"--company-id", "c-1"})
	c.SetErr(&bytes.Buffer{})
	c.SetOut(&bytes.Buffer{})
	if err := c.Execute(); err != nil || o.company != "c-1" {
		t.Fatalf("--company-id: %v, company %q", err, o.company)
	}
}

// A value read from stdin is prompted for, without echo, on a terminal, and read
// silently from a pipe.
func TestValuePrompt(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	env := newEnvironment(func(string) string { return "" }, strings.NewReader("from-pipe\n"), &bytes.Buffer{}, &stderr)
	v, err := valueSource{}.read(env, "OPENAI_KEY")
	if err != nil || v != "from-pipe" || stderr.Len() != 0 {
		t.Fatalf("pipe: %q %v, stderr %q", v, err, stderr.String())
	}
	env.stdinTTY = true
	env.readSecret = func() ([]byte, error) { return []byte("typed"), nil }
	v, err = valueSource{}.read(env, "OPENAI_KEY")
	if err != nil || v != "typed" || !strings.HasPrefix(stderr.String(), "Value for OPENAI_KEY: ") || strings.Contains(stderr.String(), "typed") {
		t.Fatalf("terminal: %q %v, stderr %q", v, err, stderr.String())
	}
}

// The progress line is drawn on a terminal only.
func TestProgress(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	env := newEnvironment(func(string) string { return "" }, nil, &bytes.Buffer{}, &stderr)
	p := env.progress("work", 10)
	p.Add(10)
	p.Done()
	if stderr.Len() != 0 {
		t.Fatalf("progress on a pipe: %q", stderr.String())
	}
	env.stderrTTY = true
	p = env.progress("work", 10)
	p.Add(10)
	p.Done()
	if !strings.Contains(stderr.String(), "\rwork: 10/10 (100%)") || !strings.HasSuffix(stderr.String(), "\r\033[K") {
		t.Fatalf("progress on a terminal: %q", stderr.String())
	}
}

// --plain takes values from the environment, --secret references secrets.
func TestEnvFromFlags(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return map[string]string{"MY_LEVEL": "debug"}[k] }
	body, err := envFromFlags(getenv, []string{"LOG_LEVEL=MY_LEVEL"}, []string{"API_KEY=s-1@3", "DB=s-2"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(body)
	want := `{"env":{"API_KEY":{"secretId":"s-1","type":"secret_ref","version":3},"DB":{"secretId":"s-2","type":"secret_ref","version":"latest"},"LOG_LEVEL":{"type":"plain","value":"debug"}}}`
	var gotJSON, wantJSON any
	if json.Unmarshal(got, &gotJSON) != nil || json.Unmarshal([]byte(want), &wantJSON) != nil || !reflect.DeepEqual(gotJSON, wantJSON) {
		t.Fatalf("body %s\nwant %s", got, want)
	}
	for _, bad := range [][2][]string{{{"NOEQ"}, nil}, {nil, {"K=s@x"}}, {{"K=MY_LEVEL"}, {"K=s"}}} {
		if _, err := envFromFlags(getenv, bad[0], bad[1]); exitCode(err) != exitUsage {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// List verbs follow the cursor to the end; these two run against the API's contract
// (a fake), as the server's routes for them are newer than this test.
func TestListVerbsFollowCursor(t *testing.T) {
	t.Parallel()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		if r.Header.Get("Authorization") != "Bearer slb_t" {
			w.WriteHeader(401)
			return
		}
		switch r.URL.Query().Get("cursor") {
		case "":
			_, _ = w.Write([]byte(`{"items": [{"id": "k1", "targetType": "agent", "targetId": "a1", "label": "", "revokedAt": null}], "nextCursor": "c2"}`))
		default:
			_, _ = w.Write([]byte(`{"items": [{"id": "k2", "targetType": "agent", "targetId": "a2", "label": "second", "revokedAt": "2026-01-01T00:00:00Z"}], "nextCursor": null}`))
		}
	}))
	defer srv.Close()
	vars := map[string]string{"LEDGER_URL": srv.URL, "LEDGER_TOKEN": "slb_t"}

	code, out, errOut := runCLI(t, vars, "", "agent-keys", "list", "-C", "co", "--output", "json")
	var items []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) != 2 || items[1]["id"] != "k2" {
		t.Fatalf("agent-keys list: exit %d %s %s", code, out, errOut)
	}
	if !sameRequest(queries[0], "/api/companies/co/agent-keys?limit=1000") || !sameRequest(queries[1], "/api/companies/co/agent-keys?limit=1000&cursor=c2") {
		t.Fatalf("requests %v", queries)
	}
	code, out, _ = runCLI(t, vars, "", "agent-keys", "list", "-C", "co", "-o", "table")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[2], "second") ||
		strings.Index(lines[1], "a1") != strings.Index(lines[2], "a2") {
		t.Fatalf("agent-keys list table: exit %d\n%s", code, out)
	}
	queries = nil
	if code, out, errOut := runCLI(t, vars, "", "secrets", "list", "-C", "co", "--deleted"); code != 0 || !strings.Contains(out, "k2") {
		t.Fatalf("secrets list --deleted: exit %d %s %s", code, out, errOut)
	}
	if !sameRequest(queries[0], "/api/companies/co/secrets?q=&deleted=true&limit=1000") {
		t.Fatalf("secrets list --deleted asked %v", queries)
	}
	vars["LEDGER_TOKEN"] = "slb_wrong"
	if code, _, errOut := runCLI(t, vars, "", "agent-keys", "list", "-C", "co"); code != 1 || !strings.Contains(errOut, "HTTP 401") {
		t.Fatalf("refused: exit %d %s", code, errOut)
	}
}

// sameRequest says whether two request targets have the same path and query parameters,
// in whatever order.
func sameRequest(got, want string) bool {
	g, errG := url.Parse(got)
	w, errW := url.Parse(want)
	return errG == nil && errW == nil && g.Path == w.Path && reflect.DeepEqual(g.Query(), w.Query())
}

// No flag anywhere in the tree takes a credential or a secret value itself: a command
// line is visible to every user of the host (ps, /proc/PID/cmdline). Such inputs come
// from a file, an environment variable or stdin, which the flag only names.
func TestNoFlagTakesACredential(t *testing.T) {
	t.Parallel()
	credential := regexp.MustCompile(`^(value|token|password|passwd|secret-value|api-key|agent-key|master-key|board-token)$|token$|password$`)
	checked := 0
	for _, path := range commandPaths() {
		cmd := findCommand(path)
		visit := func(f *pflag.Flag) {
			checked++
			if credential.MatchString(f.Name) {
				t.Errorf("%s --%s takes a credential on the command line; name a file or an environment variable instead",
					strings.Join(path, " "), f.Name)
			}
		}
		cmd.LocalFlags().VisitAll(visit)
		cmd.InheritedFlags().VisitAll(visit)
	}
	if checked < 100 {
		t.Fatalf("only %d flags checked", checked)
	}
}
