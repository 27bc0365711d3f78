package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
)

func configureEnv(t *testing.T, home, stdin string, tty bool, vars map[string]string) (*environment, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "LEDGER_HOME" {
			return home
		}
		return vars[k]
	}
	env := newEnvironment(getenv, strings.NewReader(stdin), &stdout, &stderr)
	env.stdinTTY = tty
	return env, &stdout, &stderr
}

func TestConfigureWithFlagsAndOnATerminal(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := filepath.Join(home, "instances", "default", config.FileName)

	env, out, errOut := configureEnv(t, home, "", false, nil)
	if code := run(context.Background(), env, []string{"configure", "--section", "secrets", "--strict-mode", "true",
		"--master-key-file", "/keys/master.key"}); code != 0 {
		t.Fatalf("configure with flags: %d %s", code, errOut)
	}
	if !strings.Contains(out.String(), "secrets.strictMode = true") {
		t.Fatalf("output %q", out)
	}
	// Settings take effect from the file, and the environment overrides them.
	env, _, _ = configureEnv(t, home, "", false, map[string]string{"PAPERCLIP_SECRETS_MASTER_KEY_FILE": "/env/key"})
	if !env.cfg.StrictMode || env.getenv("PAPERCLIP_SECRETS_MASTER_KEY_FILE") != "/env/key" ||
		env.settings.Origin("PAPERCLIP_SECRETS_STRICT_MODE") != config.OriginFile ||
		env.settings.Origin("PAPERCLIP_SECRETS_MASTER_KEY_FILE") != config.OriginEnv {
		t.Fatalf("layered: strict %v, key file %q", env.cfg.StrictMode, env.getenv("PAPERCLIP_SECRETS_MASTER_KEY_FILE"))
	}

	// Invalid settings, a setting of another section, nothing to set off a terminal: exit 2, file unchanged.
	before, _ := os.ReadFile(path)
	for _, args := range [][]string{
		{"configure", "--http-addr", "no-port"},
		{"configure", "--section", "server", "--strict-mode", "false"},
		{"configure"},
		{"configure", "--section", "nope"},
	} {
		env, _, errOut := configureEnv(t, home, "", false, nil)
		if code := run(context.Background(), env, args); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatalf("a refused configure changed the file:\n%s", after)
	}

	// On a terminal it asks every setting of the section: Enter keeps, '-' removes.
	secretsSettings := 0
	for _, s := range config.FileSettings {
		if s.Section == "secrets" {
			secretsSettings++
		}
	}
	answers := strings.Repeat("\n", 1) + "-\n" + strings.Repeat("\n", secretsSettings)
	env, out, errOut = configureEnv(t, home, answers, true, nil)
	if code := run(context.Background(), env, []string{"configure", "--section", "secrets"}); code != 0 {
		t.Fatalf("configure on a terminal: %d %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "strict mode") || !strings.Contains(out.String(), "secrets.strictMode = (removed)") {
		t.Fatalf("prompts %q, output %q", errOut, out)
	}
	vals, err := config.ReadFile(path)
	if err != nil || vals["PAPERCLIP_SECRETS_STRICT_MODE"] != "" || vals["PAPERCLIP_SECRETS_MASTER_KEY_FILE"] != "/keys/master.key" {
		t.Fatalf("after the terminal run: %v %v", vals, err)
	}
}

func TestServeHelpAndDoctorShowWhereSettingsComeFrom(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := config.WriteFile(filepath.Join(home, "instances", "default", config.FileName),
		map[string]string{"LEDGER_HTTP_ADDR": "127.0.0.1:3999", "DATABASE_URL": "postgres://u:hunter2@db/x"}); err != nil {
		t.Fatal(err)
	}
	env, out, _ := configureEnv(t, home, "", false, map[string]string{"LEDGER_LOG_LEVEL": "warn"})
	if code := run(context.Background(), env, []string{"serve", "--help"}); code != 0 {
		t.Fatalf("serve --help: %d", code)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) >= 3 {
			lines[f[0]] = f[1] + " " + f[2]
		}
	}
	if lines["LEDGER_HTTP_ADDR"] != "file 127.0.0.1:3999" || lines["LEDGER_LOG_LEVEL"] != "env warn" ||
		lines["LEDGER_NATS_ADDR"] != "default "+config.DefaultNATSAddr {
		t.Fatalf("serve --help settings:\n%s", out)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Fatal("serve --help shows the database password")
	}
}
