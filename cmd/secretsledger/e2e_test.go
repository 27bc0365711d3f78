package main

// End-to-end tests: they build the real binary and run it against real PostgreSQL
// clusters it starts itself, each test in its own LEDGER_HOME.

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The fast tier builds no binary: newInstance skips every end-to-end test.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "secretsledger-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Other users (the unprivileged-user test) must be able to run the binary.
	_ = os.Chmod(dir, 0o755)
	binary = filepath.Join(dir, "secretsledger")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build secretsledger: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Main(m) // external-database tests use the shared test cluster
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// instanceEnv is the environment of one test instance.
type instanceEnv struct {
	home     string
	addr     string
	natsAddr string
	cred     *syscall.Credential // run as this user; nil: as the test
	vars     []string
}

func newInstance(t testing.TB) *instanceEnv {
	t.Helper()
	pgtest.SkipIfShort(t)
	home := t.TempDir()
	t.Cleanup(func() { stopOrphans(home) })
	return &instanceEnv{home: home, addr: freeAddr(t), natsAddr: freeAddr(t)}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (e *instanceEnv) env() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.home, "LEDGER_HOME=" + e.home,
		"LEDGER_HTTP_ADDR=" + e.addr, "LEDGER_NATS_ADDR=" + e.natsAddr, "LEDGER_LOG_LEVEL=debug"}
	return append(env, e.vars...)
}

func (e *instanceEnv) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = e.env()
	cmd.Dir = e.home
	if e.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	}
	return cmd
}

// run runs a short command and returns its exit code and output.
func (e *instanceEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return e.runWithInput(t, "", args...)
}

// runWithInput is run with stdin.
func (e *instanceEnv) runWithInput(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := e.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

// server is a running `secretsledger serve`.
type server struct {
	cmd    *exec.Cmd
	args   []string
	stderr *pgtest.OutputBuffer
	exited chan struct{}
}

func (e *instanceEnv) serve(t testing.TB, args ...string) *server {
	t.Helper()
	cmd := e.command(append([]string{"serve"}, args...)...)
	s := &server{cmd: cmd, args: args, stderr: &pgtest.OutputBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-s.exited
		}
	})
	return s
}

// waitReady polls /readyz until it answers 200 and returns how long that took.
func (e *instanceEnv) waitReady(t testing.TB, s *server) time.Duration {
	t.Helper()
	// Readiness is polled, not timed (how fast serve starts is a benchmark's question):
	// the limit only bounds a start that hangs. On a loaded 2-core machine the embedded
	// cluster's initdb alone has taken 12 s.
	const limit = 2 * time.Minute
	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	for retries := 0; time.Since(start) < limit; {
		select {
		case <-s.exited:
			// The addresses were free when the test chose them, but tests run in
			// parallel: another process may have taken one since. Choose again.
			if retries < 3 && strings.Contains(s.stderr.String(), "in use") {
				retries++
				e.addr, e.natsAddr = freeAddr(t), freeAddr(t)
				*s = *e.serve(t, s.args...)
				continue
			}
			t.Fatalf("serve exited before it was ready: %v\n%s", s.cmd.ProcessState, s.stderr)
		default:
		}
		resp, err := client.Get("http://" + e.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond) // polling an external process's readiness
	}
	t.Fatalf("/readyz not 200 within %s\n%s", limit, s.stderr)
	return 0
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	s.stopWith(t, syscall.SIGTERM)
}

// stopWith sends sig and waits for a clean exit.
func (s *server) stopWith(t testing.TB, sig syscall.Signal) {
	t.Helper()
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s\n%s", s.stderr)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exit code %d after %v\n%s", code, sig, s.stderr)
	}
}

func (e *instanceEnv) pgdata() string {
	return filepath.Join(e.home, "instances", "default", "db", "pgdata")
}

// postmasterPid returns the pid in postmaster.pid, 0 when there is none.
func (e *instanceEnv) postmasterPid() int {
	b, err := os.ReadFile(filepath.Join(e.pgdata(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// stopOrphans stops a postmaster a failed test left behind, so that test runs never
// leak servers.
func stopOrphans(home string) {
	b, err := os.ReadFile(filepath.Join(home, "instances", "default", "db", "pgdata", "postmaster.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	}
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// unprivilegedUser returns the credentials of a non-root account for the "as a normal
// user" runs, creating a test account when needed.
func unprivilegedUser(t *testing.T) *syscall.Credential {
	t.Helper()
	const name = "sledgertest"
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			if _, err2 := user.Lookup(name); err2 != nil {
				t.Fatalf("useradd %s: %v\n%s", name, err, out)
			}
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
