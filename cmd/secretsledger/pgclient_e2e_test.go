package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// runPGClient runs a PostgreSQL client program against url the way the binary does:
// the password in a passfile, not on the command line.
func runPGClient(t *testing.T, tool, url string, args ...string) ([]byte, error) {
	t.Helper()
	c, err := database.NewClient(context.Background(), tool, strings.TrimSpace(url), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Cleanup()
	return c.CombinedOutput()
}

// recordingBinDir is a LEDGER_POSTGRES_BIN whose pg_dump, pg_restore and psql write
// their argv to the returned log and then run the real programs; every other program
// is the real one.
func recordingBinDir(t *testing.T) (dir, log string) {
	t.Helper()
	real, err := pgembed.FindBinaries("")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: the unprivileged user embedded PostgreSQL runs as must reach it.
	dir, err = os.MkdirTemp("", "secretsledger-pgbin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(dir, "argv.log")
	entries, err := os.ReadDir(real)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if name != "pg_dump" && name != "pg_restore" && name != "psql" {
			if err := os.Symlink(filepath.Join(real, name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		script := "#!/bin/sh\n{ printf '%s\\n' \"$0\" \"$@\"; echo ---; } >> '" + log + "'\nexec '" + filepath.Join(real, name) + "' \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, log
}

// TestBackupKeepsPasswordsOffTheCommandLine runs the scheduled backup of serve, db
// backup --verify, verify-backup, restore and db psql with a pg_dump, pg_restore and
// psql that record their arguments, which any local user can read in
// /proc/<pid>/cmdline: they work, and no password is among the arguments.
func TestBackupKeepsPasswordsOffTheCommandLine(t *testing.T) {
	t.Parallel()
	bin, argvLog := recordingBinDir(t)
	e := newInstance(t)
	e.vars = append(e.vars, "LEDGER_POSTGRES_BIN="+bin, "LEDGER_BACKUP_INTERVAL=1s")
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Dumped", "value": "`+canary("argv")+`"}`)
	backups := filepath.Join(e.home, "instances", "default", "backups")
	deadline := time.Now().Add(90 * time.Second)
	for {
		if verified, _ := filepath.Glob(filepath.Join(backups, "*"+backup.VerifiedSuffix)); len(verified) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled backup verified in 90s; log:\n%s", s.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop(t)

	code, out, errOut := e.run(t, "db", "backup", "--verify")
	if code != 0 || !strings.Contains(out, "matches the manifest") {
		t.Fatalf("db backup --verify: %d %s %s", code, out, errOut)
	}
	file := backupPath(t, out)
	if code, out, errOut := e.run(t, "db", "verify-backup", file); code != 0 || !strings.Contains(out, "matches the manifest") {
		t.Fatalf("db verify-backup: %d %s %s", code, out, errOut)
	}
	restored := filepath.Join(e.home, "instances", "restored", "secrets")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(e.home, "instances", "default", "secrets", localenc.KeyFileName), filepath.Join(restored, localenc.KeyFileName))
	if code, out, errOut := e.run(t, "db", "restore", "--instance", "restored", file); code != 0 || !strings.Contains(out, "1 secrets") {
		t.Fatalf("db restore: %d %s %s", code, out, errOut)
	}

	for flags, user := range map[string]string{"": "ledger_runtime", "--owner": "secretsledger"} {
		args := []string{"db", "psql"}
		if flags != "" {
			args = append(args, flags)
		}
		code, out, errOut := e.run(t, append(args, "--", "-X", "-q", "-t", "-c", "SELECT current_user")...)
		if code != 0 || strings.TrimSpace(out) != user {
			t.Fatalf("db psql %s: %d %q %s", flags, code, out, errOut)
		}
	}

	argv := readFile(t, argvLog)
	if strings.Count(argv, "pg_dump\n") < 2 || strings.Count(argv, "pg_restore\n") < 3 || strings.Count(argv, "psql\n") != 2 ||
		!strings.Contains(argv, "--dbname=postgres://") {
		t.Fatalf("the recording pg_dump and pg_restore were not used as expected:\n%s", argv)
	}
	var passwords []string
	for _, inst := range []string{"default", "restored"} {
		for _, name := range []string{"password", "runtime-password"} {
			if pw := strings.TrimSpace(readFile(t, filepath.Join(e.home, "instances", inst, "db", name))); pw != "" {
				passwords = append(passwords, pw)
			}
		}
	}
	for _, pw := range passwords {
		if strings.Contains(argv, pw) {
			t.Fatalf("a database password is on a command line:\n%s", argv)
		}
	}
	// The throwaway clusters of the verifications have passwords of their own.
	if m := regexp.MustCompile(`://[^/@\s]*:[^/@\s]*@`).FindString(argv); m != "" {
		t.Fatalf("a URL with a password is on a command line (%s):\n%s", m, argv)
	}
}
