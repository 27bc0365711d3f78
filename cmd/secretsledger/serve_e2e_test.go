package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The README's promise: serve on a machine with no DATABASE_URL is ready within 15 s on
// first start and 5 s on the next, stops cleanly on SIGTERM (PostgreSQL included), and
// a second `migrate` finds nothing to do.
func TestServeEmbeddedFirstAndNextStart(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	checkStartStop(t, e)
}

// The same as an unprivileged user, when the tests run as root (CI does); as a normal
// user the test above already is that case.
func TestServeEmbeddedAsTheOtherKindOfUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("running as a normal user: TestServeEmbeddedFirstAndNextStart covers it; the root case needs root")
	}
	e := newInstance(t)
	e.cred = unprivilegedUser(t)
	// t.TempDir's parent is private to root; this user needs a home it can reach.
	home, err := os.MkdirTemp("", "secretsledger-e2e-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopOrphans(home); _ = os.RemoveAll(home) })
	if err := os.Chown(home, int(e.cred.Uid), int(e.cred.Gid)); err != nil {
		t.Fatal(err)
	}
	e.home = home
	checkStartStop(t, e)
}

func checkStartStop(t *testing.T, e *instanceEnv) {
	s := e.serve(t)
	first := e.waitReady(t, s)
	pid := e.postmasterPid()
	if pid == 0 || !processAlive(pid) {
		t.Fatalf("no running postmaster after start (pid %d)", pid)
	}
	s.stop(t)
	if processAlive(pid) {
		t.Fatalf("postmaster %d still running after serve stopped\n%s", pid, s.stderr)
	}
	s = e.serve(t)
	next := e.waitReady(t, s)
	s.stop(t)
	t.Logf("ready after %s on first start, %s on the next", first, next)

	code, out, errOut := e.run(t, "migrate")
	if code != 0 || !strings.Contains(out, "no pending migrations") {
		t.Fatalf("migrate after serve: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "\"level\":\"ERROR\"") {
		t.Fatalf("errors logged:\n%s", errOut)
	}
}

// kill -9 of the ledger leaves PostgreSQL running; the next start finds the orphan,
// stops it and serves again.
func TestServeRecoversAfterKill9(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	orphan := e.postmasterPid()
	_ = s.cmd.Process.Kill()
	<-s.exited
	if !processAlive(orphan) {
		t.Fatalf("expected the postmaster %d to outlive the killed ledger", orphan)
	}
	s = e.serve(t)
	e.waitReady(t, s)
	if processAlive(orphan) {
		t.Fatalf("the orphaned postmaster %d is still running", orphan)
	}
	if !strings.Contains(s.stderr.String(), "orphaned PostgreSQL") {
		t.Fatalf("no recovery logged:\n%s", s.stderr)
	}
	s.stop(t)
}

// A stale postmaster.pid naming a dead process does not stop the next start.
func TestServeIgnoresStalePidFile(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	s.stop(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := []byte(strings.Join([]string{strconv.Itoa(dead.Process.Pid), e.pgdata(), "1700000000", "5432", "", "", ""}, "\n"))
	if err := os.WriteFile(filepath.Join(e.pgdata(), "postmaster.pid"), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	s = e.serve(t)
	e.waitReady(t, s)
	if !strings.Contains(s.stderr.String(), "stale postmaster.pid") {
		t.Fatalf("stale pid file not reported:\n%s", s.stderr)
	}
	pid := e.postmasterPid()
	s.stopWith(t, syscall.SIGINT) // Ctrl-C stops as cleanly as SIGTERM
	if processAlive(pid) || e.postmasterPid() != 0 {
		t.Fatalf("postmaster %d survived SIGINT\n%s", pid, s.stderr)
	}
}

func TestBadInputExitsWithAClearMessage(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // not defer: the parallel subtests run after this function returns
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		vars     []string
		args     []string
		code     int
		contains []string
		never    []string
	}{
		{"malformed DATABASE_URL", []string{"DATABASE_URL=postgres://u:hunter2@host:notaport/db"}, []string{"serve"}, 2,
			[]string{"DATABASE_URL"}, []string{"hunter2", "goroutine", "panic"}},
		{"not a URL at all", []string{"DATABASE_URL=hunter2 not a url"}, []string{"migrate"}, 2,
			[]string{"DATABASE_URL"}, []string{"hunter2"}},
		{"HTTP port in use", []string{"LEDGER_HTTP_ADDR=" + taken.Addr().String()}, []string{"serve"}, 2,
			[]string{taken.Addr().String(), "in use"}, nil},
		{"instance directory not writable", []string{"LEDGER_HOME=" + filepath.Join(notADir, "home")}, []string{"serve"}, 2,
			[]string{filepath.Join(notADir, "home"), "not writable"}, nil},
		{"no PostgreSQL binaries", []string{"LEDGER_POSTGRES_BIN=/nonexistent/bin"}, []string{"serve"}, 2,
			[]string{"apt-get install postgresql", "DATABASE_URL"}, nil},
		{"unknown flag", nil, []string{"serve", "--bogus"}, 2, []string{"bogus"}, nil},
		{"unknown command", nil, []string{"frobnicate"}, 2, []string{"frobnicate"}, nil},
		{"doctor with bad configuration", []string{"LEDGER_LOG_LEVEL=loud"}, []string{"doctor"}, 2,
			[]string{"FAIL", "LEDGER_LOG_LEVEL"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newInstance(t)
			e.vars = tc.vars
			code, out, errOut := e.run(t, tc.args...)
			all := out + errOut
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, all)
			}
			for _, want := range tc.contains {
				if !strings.Contains(all, want) {
					t.Errorf("output does not mention %q:\n%s", want, all)
				}
			}
			for _, bad := range tc.never {
				if strings.Contains(all, bad) {
					t.Errorf("output contains %q:\n%s", bad, all)
				}
			}
			if _, err := os.Stat(filepath.Join(e.home, "instances", "default", "db", "pgdata")); tc.code == 2 && err == nil {
				t.Errorf("a refused start still created a database cluster")
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"db", "--help"}, {"doctor", "--help"}, {"version"}} {
		code, out, errOut := e.run(t, args...)
		if code != 0 || out == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if _, out, _ := e.run(t, "version"); !strings.HasPrefix(out, "secretsledger ") {
		t.Errorf("version output %q", out)
	}
}
