package main

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

// psqlInt runs a query as the owner that returns one number.
func (e *instanceEnv) psqlInt(t *testing.T, sql string) int64 {
	t.Helper()
	out, err := e.psqlOwner(t, sql)
	if err != nil {
		t.Fatalf("%s: %v\n%s", sql, err, out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q", sql, out)
	}
	return n
}

// sealedWait bounds a test's wait for the sealer to chain what was acknowledged: a
// lease TTL (10 s by default) when the process that held the sealer lease died, and a
// margin.
const sealedWait = 30 * time.Second

// waitSealedWith waits until the sealer has chained every event acknowledged so far
// (ledger_appends is empty), asking with query (psql as some role), for a step that
// reads the sealed log (the events route, NATS, verify, checkpoints) or appends to it
// as a forger would.
func waitSealedWith(t *testing.T, query func(t *testing.T, sql string) (string, error)) {
	t.Helper()
	pollUntil(t, sealedWait, func() string {
		out, err := query(t, `SELECT count(*) FROM ledger_appends`)
		if err != nil {
			t.Fatalf("read the sealer's backlog: %v\n%s", err, out)
		}
		if n := strings.TrimSpace(out); n != "0" {
			return n + " acknowledged event(s) not sealed"
		}
		return ""
	})
}

// sealedHead waits until the sealer has chained every event acknowledged so far and
// returns the sealed log's head.
func (e *instanceEnv) sealedHead(t *testing.T) int64 {
	t.Helper()
	waitSealedWith(t, e.psqlOwner)
	return e.psqlInt(t, `SELECT coalesce(max(position), 0) FROM ledger_events`)
}

// serve signs the head every N events, stores the checkpoints, publishes them on
// ledger.checkpoints and appends them to the export file; verify checks them; a tail
// deleted together with the checkpoints table passes the table but not the exported
// copy; doctor fails on the relay cursor left ahead of the head.
func TestSignedCheckpointsThroughTheBinary(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	export := filepath.Join(e.home, "elsewhere", "checkpoints.jsonl")
	e.vars = append(e.vars, "LEDGER_CHECKPOINT_EVERY_EVENTS=2", "LEDGER_CHECKPOINT_EVERY=1h", "LEDGER_CHECKPOINT_EXPORT="+export)
	s := e.serve(t)
	e.waitReady(t, s)
	code, pubText, errOut := e.run(t, "checkpoint", "pubkey")
	pub, err := checkpoint.ParsePublicKey(pubText)
	if code != 0 || err != nil {
		t.Fatalf("checkpoint pubkey: exit %d %v\n%s%s", code, err, pubText, errOut)
	}
	if fi, err := os.Stat(filepath.Join(e.home, "instances", "default", "secrets", "checkpoint.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v", err)
	}
	msgs := make(chan *nats.Msg, 64)
	if _, err := e.ledgerJetStream(t).Conn().ChanSubscribe(natsbus.CheckpointSubject, msgs); err != nil {
		t.Fatal(err)
	}
	api := e.client(t, e.instanceToken(t))
	for i := range 5 {
		api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "s`+strconv.Itoa(i)+`", "value": "v"}`)
		if i == 1 {
			// The sealer may chain several events at once, and the signer signs the head
			// it finds: let it sign one before the rest, so the export holds two.
			e.sealedHead(t)
			pollUntil(t, sealedWait, func() string {
				if b, err := os.ReadFile(export); err != nil || len(b) == 0 {
					return "no checkpoint exported yet"
				}
				return ""
			})
		}
	}
	head := e.sealedHead(t)
	checkpointPublishedStep(t, e, msgs, pub, head)
	checkpointLedgerStateStep(t, api, pubText, head)
	checkpointExportedAtStopStep(t, s, export, head)
	checkpointVerifyStep(t, e, pubText, export, head)
	checkpointTailDeletedStep(t, e, pubText, export, head)
}

// checkpointPublishedStep: a signed checkpoint is published on ledger.checkpoints, and
// the relay publishes everything before the stop (doctor's check below).
func checkpointPublishedStep(t *testing.T, e *instanceEnv, msgs chan *nats.Msg, pub ed25519.PublicKey, head int64) {
	t.Helper()
	select {
	case m := <-msgs:
		c, err := checkpoint.ParseLine(m.Data)
		if err != nil || !c.Valid(ed25519.PublicKey(pub)) || c.Position < 2 || c.InstanceID != "default" {
			t.Fatalf("published checkpoint %s: %v", m.Data, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint published on " + natsbus.CheckpointSubject)
	}
	// The relay has published everything before the stop (doctor's check below).
	for deadline := time.Now().Add(10 * time.Second); e.psqlInt(t, `SELECT coalesce((SELECT position FROM relay_cursors), 0)`) < head; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the relay did not catch up")
		}
	}
}

// checkpointLedgerStateStep: GET /api/ledger says the same: the stored checkpoint
// verifies under this instance's key, the chain from it to the head is intact, the relay
// has caught up; GET /api/companies counts the secrets.
func checkpointLedgerStateStep(t *testing.T, api *apiClient, pubText string, head int64) {
	t.Helper()
	var state struct {
		Head       struct{ Position int64 }
		Checkpoint *struct {
			Position       int64
			PublicKey      string
			SignatureValid bool
		}
		Verification struct {
			OK       bool
			From, To int64
		}
		Relay *struct{ Cursor, LagEvents int64 }
	}
	body := api.must(200, "GET", "/api/ledger", "").body
	if err := json.Unmarshal(body, &state); err != nil {
		t.Fatal(err)
	}
	if c := state.Checkpoint; state.Head.Position != head || c == nil || !c.SignatureValid || c.PublicKey != strings.TrimSpace(pubText) ||
		!state.Verification.OK || state.Verification.From != c.Position || state.Verification.To != head ||
		state.Relay == nil || state.Relay.Cursor != head || state.Relay.LagEvents != 0 {
		t.Fatalf("GET /api/ledger at head %d: %s", head, body)
	}
	companies := api.must(200, "GET", "/api/companies", "").list(t)
	if len(companies) != 1 || companies[0]["id"] != companyA || companies[0]["secrets"] != float64(5) {
		t.Fatalf("GET /api/companies: %v", companies)
	}
}

// checkpointExportedAtStopStep: stopping signs the final head, and the export file ends
// with it.
func checkpointExportedAtStopStep(t *testing.T, s *server, export string, head int64) {
	t.Helper()
	s.stop(t) // signs the final head
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := checkpoint.ReadLines(strings.NewReader(string(b)))
	if err != nil || len(lines) < 2 || lines[len(lines)-1].Position != head {
		t.Fatalf("export file (head %d): %v\n%s", head, err, b)
	}
}

// checkpointVerifyStep: verify checks the checkpoints; without the private key file,
// with the public key on the command line.
func checkpointVerifyStep(t *testing.T, e *instanceEnv, pubText, export string, head int64) {
	t.Helper()
	code, out, errOut := e.run(t, "verify")
	okLine := regexp.MustCompile(`(?m)^ok: (\d+) events, head position (\d+), head hash [0-9a-f]{64}$`)
	if code != 0 || !okLine.MatchString(out) || !strings.Contains(out, "checkpoints: newest signed position "+strconv.FormatInt(head, 10)+", 0 event(s) after it") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	// Without the private key file: the public key on the command line.
	e.vars = append(e.vars, "LEDGER_CHECKPOINT_KEY_FILE="+filepath.Join(e.home, "nowhere", "checkpoint.key"))
	if code, out, errOut := e.run(t, "verify"); code != 2 || !strings.Contains(errOut, "--pubkey") {
		t.Fatalf("verify without any key: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := e.run(t, "verify", "--pubkey", strings.TrimSpace(pubText), "--checkpoints", export); code != 0 || !strings.Contains(out, export+": ") {
		t.Fatalf("verify --pubkey --checkpoints: exit %d\n%s%s", code, out, errOut)
	}
}

// checkpointTailDeletedStep: the attacker deletes the last two events and every
// checkpoint (on a running instance: the embedded database runs while serve does); the
// table passes, the exported copy does not, and doctor fails on the relay cursor.
func checkpointTailDeletedStep(t *testing.T, e *instanceEnv, pubText, export string, head int64) {
	t.Helper()
	s := e.serve(t)
	e.waitReady(t, s)
	if out, err := e.psqlOwner(t, `SET session_replication_role = replica;
		DELETE FROM ledger_events WHERE position > `+strconv.FormatInt(head-2, 10)+`; DELETE FROM ledger_checkpoints`); err != nil {
		t.Fatalf("tamper: %v\n%s", err, out)
	}
	s.stop(t)
	if code, out, errOut := e.run(t, "verify", "--pubkey", strings.TrimSpace(pubText)); code != 0 {
		t.Fatalf("verify with the table gone (nothing left to compare with): exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := e.run(t, "verify", "--pubkey", strings.TrimSpace(pubText), "--checkpoints", export)
	want := "BROKEN at position " + strconv.FormatInt(head-1, 10) + ": truncated: truncated after " + strconv.FormatInt(head-2, 10)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("verify --checkpoints after a tail delete: exit %d, want a line %q\n%s%s", code, want, out, errOut)
	}
	code, out, errOut = e.run(t, "doctor")
	if code != 1 || !regexp.MustCompile(`(?m)^FAIL relay: the cursor \(\d+\) is ahead of the log's head`).MatchString(out) {
		t.Fatalf("doctor with the relay cursor ahead: exit %d\n%s%s", code, out, errOut)
	}
}
