package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

// PatroniNodes is the size of the cluster StartPatroni builds: a leader and two
// standbys, so that synchronous_mode always has a standby to promote.
const PatroniNodes = 3

// Patroni is a highly available PostgreSQL for one test: one etcd and PatroniNodes
// PostgreSQL servers managed by Patroni with synchronous_mode on, each node on its own
// loopback ports. The ledger's database and its two roles are created on the leader.
type Patroni struct {
	dir   string
	cred  *syscall.Credential
	etcd  *child
	nodes [PatroniNodes]*patroniNode
	// owner and runtime are the passwords of the ledger's two roles.
	owner, runtime string
}

type patroniNode struct {
	name            string
	pgPort, apiPort int
	config          string
	proc            *child
}

// StartPatroni starts the cluster (Debian's patroni and etcd-server packages, the
// PostgreSQL server binaries pgembed finds), waits until it has a leader and a
// synchronous standby, creates the ledger's database with an owner and a runtime role,
// and stops everything when the test ends. It runs as the unprivileged service user when
// the test runs as root, since PostgreSQL refuses to run as root.
func StartPatroni(t testing.TB) *Patroni {
	t.Helper()
	SkipIfShort(t)
	for _, name := range []string{"patroni", "etcd"} {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("pgtest: %s not found: install Debian's patroni and etcd-server packages", name)
		}
	}
	pgBin, err := pgembed.FindBinaries(os.Getenv("LEDGER_POSTGRES_BIN"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = patroniCredential(t)
	}
	// The ports are free when chosen, but other tests run beside this one and may take
	// one before a node binds it, and a bootstrap on a loaded machine can stall: a
	// cluster that does not come up is stopped, shown, and built again on new ports.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p, err := startPatroniOnce(t, cred, pgBin)
		if err == nil {
			t.Cleanup(p.stop)
			return p
		}
		logs := p.Logs()
		p.stop()
		if attempt == attempts {
			t.Fatalf("pgtest: the Patroni cluster did not come up in %d attempts: %v\n%s", attempts, err, logs)
		}
		t.Logf("pgtest: the Patroni cluster did not come up (attempt %d), trying again on other ports: %v\n%s", attempt, err, logs)
	}
}

// startPatroniOnce builds one cluster on fresh ports and directory; on an error the
// caller stops what it started.
func startPatroniOnce(t testing.TB, cred *syscall.Credential, pgBin string) (*Patroni, error) {
	p := &Patroni{owner: randomHex(t), runtime: randomHex(t), cred: cred}
	var err error
	// Not t.TempDir: its parents are 0700 and root's, which the service user cannot pass.
	if p.dir, err = os.MkdirTemp("", "secretsledger-patroni-"); err != nil {
		return p, err
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return p, err
		}
	}
	ports := freePorts(t, 2+2*PatroniNodes)
	if err := p.startEtcd(ports[0], ports[1]); err != nil {
		return p, err
	}
	super, repl := randomHex(t), randomHex(t)
	for i := range p.nodes {
		n := &patroniNode{name: fmt.Sprintf("n%d", i+1), pgPort: ports[2+2*i], apiPort: ports[3+2*i]}
		n.config = filepath.Join(p.dir, n.name+".yml")
		conf := patroniConfig(p.dir, n, ports[0], pgBin, super, repl)
		if err := os.WriteFile(n.config, []byte(conf), 0o600); err != nil {
			return p, err
		}
		p.nodes[i] = n
	}
	if p.cred != nil {
		if err := chownTree(p.dir, p.cred); err != nil {
			return p, err
		}
	}
	for i := range p.nodes {
		if err := p.Start(i); err != nil {
			return p, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	leader, err := p.WaitLeader(ctx, -1)
	if err == nil {
		_, err = p.WaitSynchronous(ctx)
	}
	if err == nil {
		err = p.createLedgerDatabase(ctx, leader, super)
	}
	return p, err
}

func (p *Patroni) startEtcd(clientPort, peerPort int) error {
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	var err error
	p.etcd, err = startChild(p.cred, p.dir, []string{"PATH=" + os.Getenv("PATH")}, "etcd",
		"--name", "e1", "--logger", "zap", "--data-dir", filepath.Join(p.dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e1="+peer)
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(client + "/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.etcd.done:
			return fmt.Errorf("etcd exited:\n%s", p.etcd.out)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("etcd not healthy within 30s:\n%s", p.etcd.out)
}

// Start starts node i's Patroni (again, after Crash): a node that was the primary
// comes back as a replica of the new one.
func (p *Patroni) Start(i int) error {
	n := p.nodes[i]
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.dir, "LANG=C.UTF-8"}
	c, err := startChild(p.cred, p.dir, env, "patroni", n.config)
	if err != nil {
		return fmt.Errorf("start patroni %s: %w", n.name, err)
	}
	n.proc = c
	return nil
}

// Crash is a node's machine dying: kill -9 of its Patroni and of its postmaster (which
// Patroni starts in a session of its own), so the leader lock is not released and
// expires after the ttl.
func (p *Patroni) Crash(i int) {
	n := p.nodes[i]
	if pid, ok := p.postmasterPid(i); ok {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if n.proc != nil {
		n.proc.kill()
	}
}

// KillPostmaster kills node i's postmaster only (kill -9), leaving its Patroni running.
func (p *Patroni) KillPostmaster(i int) bool {
	pid, ok := p.postmasterPid(i)
	return ok && syscall.Kill(pid, syscall.SIGKILL) == nil
}

func (p *Patroni) postmasterPid(i int) (int, bool) {
	b, err := os.ReadFile(filepath.Join(p.dir, "data-"+p.nodes[i].name, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid, err == nil && pid > 0
}

// Name is node i's Patroni member name.
func (p *Patroni) Name(i int) string { return p.nodes[i].name }

// Leader returns the index of the node whose Patroni says it is the leader, or -1.
func (p *Patroni) Leader() int {
	for i := range p.nodes {
		if p.status(i, "/leader") == http.StatusOK {
			return i
		}
	}
	return -1
}

// status is the HTTP status of a GET of path on node i's REST API (0: no answer).
func (p *Patroni) status(i int, path string) int {
	c := http.Client{Timeout: 2 * time.Second}
	r, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p.nodes[i].apiPort, path))
	if err != nil {
		return 0
	}
	r.Body.Close()
	return r.StatusCode
}

// WaitLeader waits until a node other than not (-1: any) leads and accepts writes.
func (p *Patroni) WaitLeader(ctx context.Context, not int) (int, error) {
	return poll(ctx, func() (int, bool) {
		i := p.Leader()
		return i, i >= 0 && i != not
	}, "a leader other than node %d", not)
}

// WaitSynchronous waits until every node runs and one standby is synchronous, and
// returns that standby: under synchronous_mode, the only node Patroni promotes.
func (p *Patroni) WaitSynchronous(ctx context.Context) (int, error) {
	return poll(ctx, func() (int, bool) {
		for i := range p.nodes {
			if p.status(i, "/health") != http.StatusOK {
				return 0, false
			}
		}
		for i := range p.nodes {
			if p.status(i, "/sync") == http.StatusOK {
				return i, true
			}
		}
		return 0, false
	}, "a synchronous standby and every node running")
}

// Switchover asks Patroni for a planned switchover from the leader to candidate, which
// must be the synchronous standby (WaitSynchronous).
func (p *Patroni) Switchover(ctx context.Context, leader, candidate int) error {
	body := fmt.Sprintf(`{"leader": %q, "candidate": %q}`, p.nodes[leader].name, p.nodes[candidate].name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		fmt.Sprintf("http://127.0.0.1:%d/switchover", p.nodes[leader].apiPort), strings.NewReader(body))
	if err != nil {
		return err
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("switchover to %s: status %d", p.nodes[candidate].name, r.StatusCode)
	}
	return nil
}

func poll(ctx context.Context, f func() (int, bool), what string, args ...any) (int, error) {
	for {
		if v, ok := f(); ok {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for "+what+": %w", append(args, ctx.Err())...)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hosts is every node's host:port, the multi-host list of a libpq-style URL.
func (p *Patroni) hosts() string {
	hs := make([]string, len(p.nodes))
	for i, n := range p.nodes {
		hs[i] = fmt.Sprintf("127.0.0.1:%d", n.pgPort)
	}
	return strings.Join(hs, ",")
}

// url is role's URL of the ledger's database listing every node, with
// target_session_attrs=read-write: pgx tries the hosts in order and keeps the one that
// accepts writes, so after a failover a new connection finds the new primary.
func (p *Patroni) url(role, password string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/ledger?target_session_attrs=read-write&connect_timeout=5",
		role, url.QueryEscape(password), p.hosts())
}

// OwnerURL is the URL of the role that owns the ledger's database: DATABASE_MIGRATION_URL.
func (p *Patroni) OwnerURL() string { return p.url("ledger_owner", p.owner) }

// RuntimeURL is the URL of the unprivileged runtime role: DATABASE_URL.
func (p *Patroni) RuntimeURL() string { return p.url("ledger_runtime", p.runtime) }

func (p *Patroni) createLedgerDatabase(ctx context.Context, leader int, superPassword string) error {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres",
		url.QueryEscape(superPassword), p.nodes[leader].pgPort))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		fmt.Sprintf("CREATE ROLE ledger_owner LOGIN PASSWORD '%s'", p.owner),
		fmt.Sprintf("CREATE ROLE ledger_runtime LOGIN NOINHERIT PASSWORD '%s'", p.runtime),
		"CREATE DATABASE ledger OWNER ledger_owner",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(stmt, " PASSWORD", 2)[0], err)
		}
	}
	// Every node must have the database before a ledger connects: pgx's multi-host
	// connect stops at a server that answers "no such database" instead of trying the next.
	for i, n := range p.nodes {
		_, err := poll(ctx, func() (int, bool) {
			c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://ledger_owner:%s@127.0.0.1:%d/ledger", url.QueryEscape(p.owner), n.pgPort))
			if err != nil {
				return 0, false
			}
			_ = c.Close(ctx)
			return 0, true
		}, "the ledger database on node %d", i)
		if err != nil {
			return err
		}
	}
	return nil
}

// stop kills every node's Patroni and postmaster and etcd, and removes the directory.
func (p *Patroni) stop() {
	for i, n := range p.nodes {
		if n != nil {
			p.Crash(i)
		}
	}
	if p.etcd != nil {
		p.etcd.kill()
	}
	_ = os.RemoveAll(p.dir)
}

func randomHex(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return hex.EncodeToString(b[:])
}

func freePorts(t testing.TB, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		ports[i] = p
	}
	return ports
}

// patroniCredential is the unprivileged identity the cluster runs as under root: the
// ledger's service user, else the distribution's postgres account.
func patroniCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	for _, name := range []string{pgembed.ServiceUser, "postgres"} {
		if _, err := user.Lookup(name); err == nil {
			return credentialOf(t, name)
		}
	}
	cluster(t) // creates the service user
	return credentialOf(t, pgembed.ServiceUser)
}
