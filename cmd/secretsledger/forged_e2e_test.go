package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// Someone holding only the runtime role's credentials (`secretsledger db url`) appends
// an event with a correct prev_hash and hash. The running server's signer does not sign
// past it and raises the alert (metric, /readyz detail, an ERROR line); verify reports
// it forged at its position; doctor fails. Legitimate events before it verify and stay
// signed.
func TestForgedEventThroughTheBinary(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = append(e.vars, "LEDGER_CHECKPOINT_EVERY_EVENTS=1", "LEDGER_CHECKPOINT_EVERY=100ms")
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "before", "value": "v"}`)
	before := e.sealedHead(t) // the forger appends at the sealed head
	for deadline := time.Now().Add(10 * time.Second); e.psqlInt(t, `SELECT coalesce(max(position), 0) FROM ledger_checkpoints`) < before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint of the head before the forgery")
		}
	}
	if out, err := e.psql(t, pgtest.ForgeEvent("forged", "NULL")); err != nil {
		t.Fatalf("forged insert as the runtime role: %v\n%s", err, out)
	}
	forged := before + 1
	api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "after", "value": "v"}`)

	gauge := func() float64 {
		v, _ := sampleValue(scrape(t, "http://"+e.addr), "secretsledger_ledger_forged_event_position", "")
		return v
	}
	for deadline := time.Now().Add(10 * time.Second); gauge() != float64(forged); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("secretsledger_ledger_forged_event_position = %v, want %d", gauge(), forged)
		}
	}
	ready := e.readyz(t)
	check, _ := ready["checks"].(map[string]any)["integrity"].(map[string]any)
	if ready["status"] != "degraded" || check["ok"] != false || !strings.Contains(check["detail"].(string), "forged: the event at position "+strconv.FormatInt(forged, 10)) {
		t.Fatalf("readyz with a forged event: %v", ready)
	}
	if newest := e.psqlInt(t, `SELECT max(position) FROM ledger_checkpoints`); newest != before {
		t.Fatalf("newest checkpoint %d; want %d, just before the forged event", newest, before)
	}
	s.stop(t) // the final signature stops before the forged event too
	if !regexp.MustCompile(`"level":"ERROR","msg":"the log holds an event the ledger did not write \(no valid MAC\)[^"]*","position":` + strconv.FormatInt(forged, 10) + `}`).MatchString(s.stderr.String()) {
		t.Fatalf("no ERROR line for the forged event:\n%s", s.stderr.String())
	}

	s = e.serve(t) // a restarted signer finds it again
	e.waitReady(t, s)
	for deadline := time.Now().Add(10 * time.Second); gauge() != float64(forged); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a restart, secretsledger_ledger_forged_event_position = %v, want %d", gauge(), forged)
		}
	}
	if newest := e.psqlInt(t, `SELECT max(position) FROM ledger_checkpoints`); newest != before {
		t.Fatalf("after a restart, newest checkpoint %d; want %d", newest, before)
	}
	s.stop(t)

	code, out, errOut := e.run(t, "verify")
	want := "BROKEN at position " + strconv.FormatInt(forged, 10) + ": forged (no valid MAC)"
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("verify: exit %d, want a line %q\n%s%s", code, want, out, errOut)
	}
	// Without the integrity key (verify --pubkey where only the database and the public
	// key are), the forged event after the newest checkpoint cannot be told: verify says
	// the MACs were not checked, and the events up to the checkpoint still verify.
	_, pub, _ := e.run(t, "checkpoint", "pubkey")
	noKey := *e
	noKey.vars = append(append([]string(nil), e.vars...), "LEDGER_INTEGRITY_KEY_FILE="+filepath.Join(e.home, "nowhere", "integrity.key"),
		"LEDGER_CHECKPOINT_KEY_FILE="+filepath.Join(e.home, "nowhere", "checkpoint.key"))
	code, out, errOut = noKey.run(t, "verify", "--pubkey", strings.TrimSpace(pub))
	if code != 0 || !strings.Contains(out, "event MACs: not checked (no integrity key at ") ||
		!strings.Contains(out, "checkpoints: newest signed position "+strconv.FormatInt(before, 10)+", 2 event(s) after it not signed yet") {
		t.Fatalf("verify --pubkey without the integrity key: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = e.run(t, "doctor")
	if code != 1 || !regexp.MustCompile(`(?m)^FAIL event MACs: forged: the event at position `+strconv.FormatInt(forged, 10)).MatchString(out) {
		t.Fatalf("doctor: exit %d\n%s%s", code, out, errOut)
	}
}
