package main

// End-to-end tests of the browser console at /console/: one drives it in a headless
// Chromium as an operator would, one walks every page with a plain HTTP client and
// checks that nothing secret ever leaves it and that no form post is accepted without
// a live session, the session's CSRF token and a same-origin request. This file holds
// what both use: the database as its owner, the log's head, polling, the forms' fields.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ownerDB connects to the instance's database as its owner (`db url --owner`), to read
// what the console must never show and the log's head.
func (e *instanceEnv) ownerDB(t *testing.T) *pgx.Conn {
	t.Helper()
	code, dbURL, errOut := e.run(t, "db", "url", "--owner")
	if code != 0 {
		t.Fatalf("db url --owner: exit %d\n%s", code, errOut)
	}
	conn, err := pgx.Connect(context.Background(), strings.TrimSpace(dbURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// headOf is the position of the newest event committed to the log, sealed or not.
func headOf(t *testing.T, db *pgx.Conn) int64 {
	t.Helper()
	var head int64
	if err := db.QueryRow(context.Background(), `SELECT coalesce(max(position), 0) FROM ledger_log`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	return head
}

// waitSealed waits until the sealer has chained every event acknowledged so far
// (ledger_appends is empty), for a step that reads or writes the sealed log.
func waitSealed(t testing.TB, db *pgx.Conn) {
	t.Helper()
	pollUntil(t, sealedWait, func() string {
		var n int64
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM ledger_appends`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return fmt.Sprintf("%d acknowledged event(s) not sealed", n)
		}
		return ""
	})
}

// pollUntil calls check until it returns "" (done) or the deadline passes; the last
// answer is the failure message.
func pollUntil(t testing.TB, limit time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, why)
		}
		time.Sleep(25 * time.Millisecond) // polling the server's read models
	}
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	formKeyField = regexp.MustCompile(`name="formKey" value="([^"]+)"`)
	agentKeyShow = regexp.MustCompile(`id="agent-key"[^>]* value="([^"]+)"`)
)
