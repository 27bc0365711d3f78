package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// allRoles are the background roles serve elects (backups only with a backup interval).
var allRoles = []string{"backups", "checkpoint-signer", "idempotency-sweep", "relay", "sealer", "vault-health"}

func (e *instanceEnv) roles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range e.readyz(t)["roles"].([]any) {
		out = append(out, r.(string))
	}
	return out
}

// Two serve processes on one database: each role is held by exactly one of them, and
// kill -9 of a process moves its roles to the other within the lease TTL and a margin.
func TestTwoProcessesElectOneHolderPerRole(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	dbURL := pgtest.NewDatabase(t)
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	shared := append(externalNATS(ns.ClientURL(), ns.Auth()), "DATABASE_URL="+dbURL, "PAPERCLIP_SECRETS_MASTER_KEY="+hex.EncodeToString(randomKey(t)),
		sharedIntegrityKey(t), "LEDGER_LEASE_TTL="+ttl.String(), "LEDGER_BACKUP_INTERVAL=1h") // the backups role exists; no backup runs during the test
	p1, p2 := newInstance(t), newInstance(t)
	p1.vars, p2.vars = shared, shared
	s1 := p1.serve(t)
	p1.waitReady(t, s1)
	s2 := p2.serve(t)
	p2.waitReady(t, s2)
	servers := map[*instanceEnv]*server{p1: s1, p2: s2}

	// Every role is taken, each by one process only.
	deadline := time.Now().Add(10 * time.Second)
	var r1, r2 []string
	for {
		r1, r2 = p1.roles(t), p2.roles(t)
		for _, r := range r1 {
			if slices.Contains(r2, r) {
				t.Fatalf("both processes hold %s: %v and %v", r, r1, r2)
			}
		}
		held := slices.Concat(r1, r2)
		slices.Sort(held)
		if slices.Equal(held, allRoles) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roles not all taken: %v and %v", r1, r2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("roles: process 1 %v, process 2 %v", r1, r2)

	// Kill -9 the relay's holder: the other takes every role within the TTL and a margin.
	victim, survivor := p1, p2
	if slices.Contains(r2, "relay") {
		victim, survivor = p2, p1
	}
	if err := servers[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-servers[victim].exited
	killedAt := time.Now()
	for !slices.Equal(survivor.roles(t), allRoles) {
		if time.Since(killedAt) > ttl+3*time.Second {
			t.Fatalf("the survivor holds %v %s after kill -9 of the other (TTL %s)", survivor.roles(t), time.Since(killedAt).Round(time.Millisecond), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("every role taken over %s after kill -9", time.Since(killedAt).Round(time.Millisecond))
	// The relay gauge follows the lease.
	resp, err := http.Get("http://" + survivor.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "\nsecretsledger_relay_leader 1\n") {
		t.Fatalf("the survivor's relay gauge is not 1:\n%s", body)
	}
}
