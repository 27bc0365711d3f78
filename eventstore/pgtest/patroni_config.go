package pgtest

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process a harness started, with its output and its end.
type child struct {
	cmd  *exec.Cmd
	out  *OutputBuffer
	done chan struct{}
}

func startChild(cred *syscall.Credential, dir string, env []string, name string, args ...string) (*child, error) {
	c := &child{cmd: exec.Command(name, args...), out: &OutputBuffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.Env = env
	// Its own directory, not the test's: the service user may not enter a root-owned
	// 0700 checkout (Patroni's worker processes change to their parent's directory).
	c.cmd.Dir = dir
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	// A postmaster Patroni started holds Patroni's output open in a session of its own:
	// Wait must not wait for it once Patroni is gone.
	c.cmd.WaitDelay = 2 * time.Second
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	return c, nil
}

// kill ends the process's group at once (SIGKILL) and waits for it.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// patroniConfig is one node's configuration. The settings that matter to the ledger:
// synchronous_mode (a commit is acknowledged only once a standby has it, so the
// standby Patroni promotes has every acknowledged write), a short ttl and loop_wait
// (a dead leader's lock expires in seconds), and pg_rewind (an old primary comes back
// as a replica of the new one).
func patroniConfig(dir string, n *patroniNode, etcdPort int, pgBin, superPassword, replPassword string) string {
	return fmt.Sprintf(`scope: ledger
name: %[1]s
restapi:
  listen: 127.0.0.1:%[2]d
  connect_address: 127.0.0.1:%[2]d
etcd3:
  hosts: 127.0.0.1:%[3]d
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        max_connections: 200
  initdb:
    - encoding: UTF8
    - auth-host: scram-sha-256
    - auth-local: trust
  pg_hba:
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:%[4]d
  connect_address: 127.0.0.1:%[4]d
  data_dir: %[5]s/data-%[1]s
  bin_dir: %[6]s
  pgpass: %[5]s/pgpass-%[1]s
  authentication:
    superuser:
      username: postgres
      password: %[7]s
    replication:
      username: replicator
      password: %[8]s
  parameters:
    unix_socket_directories: '%[5]s'
`, n.name, n.apiPort, etcdPort, n.pgPort, dir, pgBin, superPassword, replPassword)
}

// Logs is every process's output, for a failure message, without the lines Patroni
// repeats every loop while nothing happens.
func (p *Patroni) Logs() string {
	var b strings.Builder
	if p.etcd != nil {
		fmt.Fprintf(&b, "== etcd\n%s", tail(quiet(p.etcd.out.String())))
	}
	for _, n := range p.nodes {
		if n != nil && n.proc != nil {
			fmt.Fprintf(&b, "== patroni %s\n%s", n.name, tail(quiet(n.proc.out.String())))
		}
	}
	return b.String()
}

// quiet drops the routine lines of a log: Patroni's loop and etcd's info level.
func quiet(log string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(log, "\n") {
		if strings.Contains(line, "no action.") || strings.Contains(line, "Lock owner:") ||
			strings.Contains(line, "waiting for leader to bootstrap") || strings.Contains(line, `"level":"info"`) {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func tail(s string) string {
	const keep = 12000
	if len(s) > keep {
		return "…" + s[len(s)-keep:]
	}
	return s
}
