package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

// Bouncer is a PgBouncer in transaction pooling mode in front of the shared cluster,
// run as a child process of the test: what a managed PostgreSQL behind a pooler looks
// like to the ledger. Every database of the cluster is reachable through it, as the
// superuser and as pgembed.RuntimeUser.
type Bouncer struct {
	// Port is the loopback port PgBouncer listens on.
	Port int
	dir  string
	cmd  *exec.Cmd
	out  *OutputBuffer
	done chan struct{}
}

// StartPgBouncer starts PgBouncer (from PATH, else /usr/sbin/pgbouncer) on a free
// loopback port with pool_mode = transaction and scram-sha-256 authentication, and
// stops it when the test ends. It runs as the unprivileged user the cluster runs as
// when the test runs as root, since PgBouncer refuses to run as root.
func StartPgBouncer(t testing.TB) *Bouncer {
	t.Helper()
	srv := cluster(t)
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("pgtest: pgbouncer not found in PATH nor at %s: install the pgbouncer package", bin)
		}
	}
	owner, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	runtime, err := url.Parse(srv.RuntimeURL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = serviceCredential(t)
	}
	// Not t.TempDir: its parents are 0700 and root's, which the service user cannot pass.
	dir, err := os.MkdirTemp("", "secretsledger-pgbouncer-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	var users strings.Builder
	for _, u := range []*url.URL{owner, runtime} {
		pw, _ := u.User.Password()
		fmt.Fprintf(&users, "%q %q\n", u.User.Username(), pw)
	}
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(users.String()), 0o600); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	for attempt := 1; ; attempt++ {
		b, err := startBouncer(bin, dir, srv.Port(), cred)
		if err == nil {
			t.Cleanup(b.stop)
			return b
		}
		// The port was free when chosen, but tests run in parallel: choose again.
		if attempt < 3 && strings.Contains(err.Error(), "in use") {
			continue
		}
		t.Fatalf("pgtest: start pgbouncer: %v", err)
	}
}

func startBouncer(bin, dir string, pgPort int, cred *syscall.Credential) (*Bouncer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = %s
pidfile =
`, pgPort, port, filepath.Join(dir, "userlist.txt"), filepath.Join(dir, "pgbouncer.log"))
	confPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := chownTree(dir, cred); err != nil {
			return nil, err
		}
	}
	b := &Bouncer{Port: port, dir: dir, out: &OutputBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(bin, confPath)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return nil, fmt.Errorf("pgbouncer exited: %v\n%s%s", b.cmd.ProcessState, b.out, b.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", b.addr(), 200*time.Millisecond); err == nil {
			c.Close()
			return b, nil
		}
		time.Sleep(20 * time.Millisecond) // polling an external process's listener
	}
	b.stop()
	return nil, fmt.Errorf("pgbouncer not listening on %s within 10s\n%s%s", b.addr(), b.out, b.Log())
}

func (b *Bouncer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)) }

// URL returns direct, a URL of the shared cluster, with its host and port replaced by
// PgBouncer's, and with query (e.g. "default_query_exec_mode=exec") added when not empty.
func (b *Bouncer) URL(t testing.TB, direct, query string) string {
	t.Helper()
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Host = b.addr()
	if query != "" {
		q := u.Query()
		extra, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		for k, v := range extra {
			q[k] = v
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Log returns PgBouncer's log file so far, for failure messages.
func (b *Bouncer) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	return string(data)
}

// stop ends PgBouncer (SIGINT: immediate shutdown) and waits for it.
func (b *Bouncer) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serviceCredential is the identity of pgembed.ServiceUser, which exists once the
// shared cluster runs as root.
func serviceCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	return credentialOf(t, pgembed.ServiceUser)
}

// credentialOf is the identity of the system user name.
func credentialOf(t testing.TB, name string) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("pgtest: a server that must not run as root needs user %s: %v", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func chownTree(dir string, cred *syscall.Credential) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
}

// OutputBuffer collects a child process's output: the exec copier writes while the test
// reads.
type OutputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *OutputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *OutputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
