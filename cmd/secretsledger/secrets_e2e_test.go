package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

func TestSecretLifecycleEndToEnd(t *testing.T) {
	t.Parallel()
	secretLifecycle(t, onOneProcess(t))
}

// secretLifecycle creates, rotates, lists versions of, deletes, reuses the name of,
// fails to restore, and purges a secret; verifies the log, rebuilds the read models
// unchanged, and finds no plaintext in the database, the servers' logs or any answer.
func secretLifecycle(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	api := tg.client(t, tg.token)
	values := []string{canary("v1"), canary("v2"), canary("v3"), canary("reuse")}

	id := lifecycleCreateAndRotateStep(t, api, companyA, values)
	lifecycleDeleteReuseAndPurgeStep(t, tg, api, companyA, id, values)
	lifecycleRebuildStep(t, tg, companyA)
	lifecycleNoPlaintextStep(t, tg, api, values)
}

// lifecycleCreateAndRotateStep creates a secret, rotates it twice and lists its
// versions: one current, the others previous.
func lifecycleCreateAndRotateStep(t *testing.T, api *apiClient, companyA string, values []string) string {
	t.Helper()
	created := api.must(201, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "Stripe live", "description": "billing", "value": "`+values[0]+`"}`).json(t)
	id := created["id"].(string)
	if created["key"] != "stripe-live" || created["latestVersion"].(float64) != 1 || created["status"] != "active" {
		t.Fatalf("created %v", created)
	}
	for i, v := range values[1:3] {
		r := api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+v+`"}`)
		if got := r.json(t)["latestVersion"].(float64); got != float64(i+2) || r.header.Get("X-Ledger-Position") == "" {
			t.Fatalf("rotation %d: latestVersion %v, position %q", i+1, got, r.header.Get("X-Ledger-Position"))
		}
	}
	versions := api.must(200, "GET", "/api/secrets/"+id+"/versions", "").list(t)
	current := 0
	for _, v := range versions {
		if v["status"] == "current" {
			current++
			if v["version"].(float64) != 3 {
				t.Errorf("current version is %v", v["version"])
			}
		} else if v["status"] != "previous" {
			t.Errorf("version %v has status %v", v["version"], v["status"])
		}
	}
	if len(versions) != 3 || current != 1 {
		t.Fatalf("versions = %v", versions)
	}
	return id
}

// lifecycleDeleteReuseAndPurgeStep deletes the secret (twice), reuses its name, fails to
// restore it, and purges it: its data key destroyed, the log verified.
func lifecycleDeleteReuseAndPurgeStep(t *testing.T, tg *apiTarget, api *apiClient, companyA, id string, values []string) {
	t.Helper()
	api.must(200, "DELETE", "/api/secrets/"+id, "")
	api.must(200, "DELETE", "/api/secrets/"+id, "") // repeating a delete succeeds
	api.must(404, "GET", "/api/secrets/"+id, "")
	if l := api.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").list(t); len(l) != 0 {
		t.Fatalf("deleted secret still listed: %v", l)
	}
	reused := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Stripe live", "value": "`+values[3]+`"}`).json(t)
	if reused["id"] == id {
		t.Fatal("the reused name got the old id")
	}
	r := api.must(409, "POST", "/api/secrets/"+id+"/restore", "")
	if code := r.json(t)["details"].(map[string]any)["code"]; code != "ECONFLICT" {
		t.Fatalf("restore conflict code %v", code)
	}
	api.must(422, "POST", "/api/secrets/"+id+"/purge", `{"confirm": "not-the-id"}`)
	api.must(200, "POST", "/api/secrets/"+id+"/purge", `{"confirm": "`+id+`"}`)
	if out, err := tg.psql(t, `SELECT count(*) FROM local_secret_keys WHERE secret_id = '`+id+`' AND wrapped_key IS NULL`); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("data key not destroyed: %q %v", out, err)
	}
	if code, out, errOut := tg.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify after purge: %d %s %s", code, out, errOut)
	}
}

// lifecycleRebuildStep: drop the read models, replay every event of the log (this body
// wrote 6 of them), and compare every row.
func lifecycleRebuildStep(t *testing.T, tg *apiTarget, companyA string) {
	t.Helper()
	const snapshot = `SELECT (SELECT json_agg(s ORDER BY id) FROM company_secrets s)::text || (SELECT json_agg(v ORDER BY secret_id, version) FROM company_secret_versions v)::text`
	before, err := tg.psql(t, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	events, err := tg.psql(t, `SELECT count(*) FROM ledger_log`)
	if err != nil {
		t.Fatal(err)
	}
	if mine, _ := tg.psql(t, `SELECT count(*) FROM ledger_log WHERE company_id = '`+companyA+`'`); strings.TrimSpace(mine) != "6" {
		t.Fatalf("events of the body's company: %s, want 6", mine)
	}
	if code, out, errOut := tg.run(t, "replay"); code != 0 || !strings.Contains(out, "rebuilt the read models from "+strings.TrimSpace(events)+" events") {
		t.Fatalf("replay (%s events in the log): %d %s %s", strings.TrimSpace(events), code, out, errOut)
	}
	after, err := tg.psql(t, snapshot)
	if err != nil || after != before {
		t.Fatalf("replay changed the read models:\nbefore %s\nafter  %s", before, after)
	}
}

// lifecycleNoPlaintextStep: canary: no plaintext in the database (pg_dump), the server
// log or any response.
func lifecycleNoPlaintextStep(t *testing.T, tg *apiTarget, api *apiClient, values []string) {
	t.Helper()
	tg.stop(t)
	dump := tg.pgDump(t)
	for _, v := range values {
		for where, text := range map[string]string{"pg_dump": dump, "server log": tg.logs(), "HTTP responses": api.seen.String()} {
			if strings.Contains(text, v) {
				t.Errorf("plaintext %s found in the %s", v, where)
			}
		}
	}
	if !strings.Contains(dump, "secret.version_added") {
		t.Fatal("the dump does not hold the log: the canary search proves nothing")
	}
}

// pgDump dumps the instance's database with the real pg_dump.
func (e *instanceEnv) pgDump(t *testing.T) string {
	t.Helper()
	bin, err := pgembed.FindBinaries("")
	if err != nil {
		t.Fatal(err)
	}
	s := e.serve(t) // the database runs while serve does
	e.waitReady(t, s)
	defer s.stop(t)
	_, url, _ := e.run(t, "db", "url", "--owner") // the whole database, as a backup would
	out, err := runPGClient(t, filepath.Join(bin, "pg_dump"), url, "--no-owner")
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return string(out)
}

func TestCrossCompanyBoundary(t *testing.T) {
	t.Parallel()
	crossCompanyBoundary(t, onOneProcess(t))
}

// crossCompanyBoundary: a board token limited to company A gets 404 for everything of
// company B, and no token, a wrong or a revoked one gets 401.
func crossCompanyBoundary(t *testing.T, tg *apiTarget) {
	companyA, companyB := tg.companies()
	admin := tg.client(t, tg.token)
	code, out, errOut := tg.run(t, "token", "create", "--board", "--company", companyA)
	if code != 0 || !strings.HasPrefix(out, "slb_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create: %d %q %s", code, out, errOut)
	}
	limited := tg.client(t, strings.TrimSpace(out))

	secretB := admin.must(201, "POST", "/api/companies/"+companyB+"/secrets", `{"name": "B only", "value": "b-value"}`).json(t)["id"].(string)
	limited.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "A", "value": "a-value"}`)

	for _, req := range []struct{ method, path, body string }{
		{"GET", "/api/secrets/" + secretB, ""},
		{"GET", "/api/secrets/" + secretB + "/versions", ""},
		{"GET", "/api/companies/" + companyB + "/secrets", ""},
		{"POST", "/api/companies/" + companyB + "/secrets", `{"name": "x", "value": "y"}`},
		{"POST", "/api/secrets/" + secretB + "/rotate", `{"value": "stolen"}`},
		{"PATCH", "/api/secrets/" + secretB, `{"name": "renamed"}`},
		{"DELETE", "/api/secrets/" + secretB, ""},
		{"POST", "/api/secrets/" + secretB + "/purge", `{"confirm": "` + secretB + `"}`},
		{"GET", "/api/companies/" + companyB + "/secret-providers", ""},
	} {
		if r := limited.do(req.method, req.path, req.body); r.status != 404 {
			t.Errorf("%s %s with a company-A token: %d %s, want 404", req.method, req.path, r.status, r.body)
		}
	}
	if got := admin.must(200, "GET", "/api/secrets/"+secretB, "").json(t); got["latestVersion"].(float64) != 1 || got["name"] != "B only" {
		t.Fatalf("company B's secret changed: %v", got)
	}
	if l := limited.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").list(t); len(l) != 1 {
		t.Fatalf("company A list = %v", l)
	}
	// No token, a wrong token, a revoked token: 401.
	tg.client(t, "").must(401, "GET", "/api/companies/"+companyA+"/secrets", "")
	tg.client(t, "slb_wrong").must(401, "GET", "/api/companies/"+companyA+"/secrets", "")
	tokenID := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(errOut, " (", 2)[0], "created board token "))
	if code, _, errOut := tg.run(t, "token", "revoke", tokenID); code != 0 {
		t.Fatalf("token revoke %q: %d %s", tokenID, code, errOut)
	}
	// Refused by every process within the bound a serving process learns of a
	// revocation made elsewhere in (docs/secrets.md), and from then on: the client takes
	// the processes in turn, so as many refusals in a row are one from each.
	inARow := 0
	pollUntil(t, 2*time.Second, func() string {
		if r := limited.do("GET", "/api/companies/"+companyA+"/secrets", ""); r.status != 401 {
			inARow = 0
			return fmt.Sprintf("the revoked token: %d", r.status)
		}
		if inARow++; inARow < len(tg.procs) {
			return "not refused by every process yet"
		}
		return ""
	})
	// The server logs where the instance token is, never the token.
	if strings.Contains(tg.logs(), tg.token) || !strings.Contains(tg.logs(), "board.token") {
		t.Fatal("the server log holds the board token, or does not say where it is")
	}
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	t.Parallel()
	badInputIsRefused(t, onOneProcess(t))
}

// badInputIsRefused: every kind of bad request is refused with a coded error and
// appends nothing; a disabled secret cannot be rotated; of concurrent rotations with
// one expectedLatestVersion exactly one wins, and the losers leave no ciphertext. The
// body writes nothing else while it counts the log, so it must not run beside other
// bodies on one database.
func badInputIsRefused(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	api := tg.client(t, tg.token)
	secrets := "/api/companies/" + companyA + "/secrets"
	id := api.must(201, "POST", secrets, `{"name": "Existing", "key": "existing", "value": "v"}`).json(t)["id"].(string)
	gone := api.must(201, "POST", secrets, `{"name": "Gone", "value": "v"}`).json(t)["id"].(string)
	api.must(200, "DELETE", "/api/secrets/"+gone, "")
	head := func() string {
		out, err := tg.psql(t, `SELECT count(*) FROM ledger_log`)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	before := head()

	badRequestsAreRefusedStep(t, api, secrets, id, gone)
	if after := head(); after != before {
		t.Fatalf("bad input wrote events: %s → %s", before, after)
	}

	disabledSecretCannotRotateStep(t, api, id)
	concurrentRotationsOneWinsStep(t, tg, api, id)
}

// badRequestsAreRefusedStep: every kind of bad request is refused with a coded error.
func badRequestsAreRefusedStep(t *testing.T, api *apiClient, secrets, id, gone string) {
	t.Helper()
	big := strings.Repeat("x", 64<<10+1)
	huge := strings.Repeat("y", 1<<20+10)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown field", "POST", secrets, `{"name": "a", "value": "v", "colour": "red"}`, 400},
		{"malformed JSON", "POST", secrets, `{"name": `, 400},
		{"value over 64 KiB", "POST", secrets, `{"name": "big", "value": "` + big + `"}`, 422},
		{"company id not a UUID", "POST", "/api/companies/not-a-uuid/secrets", `{"name": "a", "value": "v"}`, 400},
		{"empty name", "POST", secrets, `{"name": "  ", "value": "v"}`, 422},
		{"name too long", "POST", secrets, `{"name": "` + strings.Repeat("n", 161) + `", "value": "v"}`, 422},
		{"key empty after normalisation", "POST", secrets, `{"name": "ok", "key": "***", "value": "v"}`, 422},
		{"managed with externalRef", "POST", secrets, `{"name": "a", "value": "v", "externalRef": "arn:x"}`, 422},
		{"managed without value", "POST", secrets, `{"name": "a"}`, 422},
		{"redaction marker as value", "POST", secrets, `{"name": "a", "value": "***REDACTED***"}`, 422},
		{"duplicate name", "POST", secrets, `{"name": "Existing", "key": "other", "value": "v"}`, 409},
		{"duplicate key", "POST", secrets, `{"name": "Other", "key": "EXISTING", "value": "v"}`, 409},
		{"body over 1 MiB", "POST", secrets, `{"name": "a", "value": "` + huge + `"}`, 413},
		{"rotate a deleted secret", "POST", "/api/secrets/" + gone + "/rotate", `{"value": "v2"}`, 404},
		{"rotate an unknown secret", "POST", "/api/secrets/01NOSUCHSECRET/rotate", `{"value": "v2"}`, 404},
		{"stale expectedLatestVersion", "POST", "/api/secrets/" + id + "/rotate", `{"value": "v2", "expectedLatestVersion": 7}`, 409},
		{"patch status deleted on a managed secret", "PATCH", "/api/secrets/" + id, `{"status": "deleted"}`, 422},
		{"patch externalRef on a managed secret", "PATCH", "/api/secrets/" + id, `{"externalRef": "arn:x"}`, 422},
		{"patch unknown status", "PATCH", "/api/secrets/" + id, `{"status": "frozen"}`, 422},
	} {
		r := api.do(tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
			continue
		}
		var body struct {
			Error   string `json:"error"`
			Details struct {
				Code string `json:"code"`
			} `json:"details"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || body.Error == "" || body.Details.Code == "" {
			t.Errorf("%s: error body %q", tc.name, r.body)
		}
	}
}

// disabledSecretCannotRotateStep: a disabled secret cannot be rotated.
func disabledSecretCannotRotateStep(t *testing.T, api *apiClient, id string) {
	t.Helper()
	api.must(200, "PATCH", "/api/secrets/"+id, `{"status": "disabled"}`)
	if r := api.must(422, "POST", "/api/secrets/"+id+"/rotate", `{"value": "v2"}`); !strings.Contains(string(r.body), "Cannot rotate a non-active secret") {
		t.Fatalf("rotate disabled: %s", r.body)
	}
	api.must(200, "PATCH", "/api/secrets/"+id, `{"status": "active"}`)
}

// concurrentRotationsOneWinsStep: concurrent rotations with the same
// expectedLatestVersion: exactly one wins, and the losers' provider writes were
// discarded: one ciphertext per version.
func concurrentRotationsOneWinsStep(t *testing.T, tg *apiTarget, api *apiClient, id string) {
	t.Helper()
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- api.do("POST", "/api/secrets/"+id+"/rotate", fmt.Sprintf(`{"value": "race-%d", "expectedLatestVersion": 1}`, i)).status
		}()
	}
	wg.Wait()
	close(statuses)
	won, lost := 0, 0
	for st := range statuses {
		switch st {
		case 200:
			won++
		case 409:
			lost++
		default:
			t.Errorf("racing rotation answered %d", st)
		}
	}
	if won != 1 || lost != 7 {
		t.Fatalf("won %d, lost %d", won, lost)
	}
	// The losers' provider writes were discarded: one ciphertext per version.
	if out, _ := tg.psql(t, `SELECT count(*) FROM local_secret_values WHERE secret_id = '`+id+`'`); strings.TrimSpace(out) != "2" {
		t.Fatalf("ciphertexts of secret after the race: %s, want 2", out)
	}
}

func TestIdempotencyKeyOnCreate(t *testing.T) {
	t.Parallel()
	idempotencyKeyOnCreate(t, onOneProcess(t))
}

// idempotencyKeyOnCreate: a retried create with the same Idempotency-Key answers the
// first secret (on two processes, the retry goes to the other one), another body with
// the key is a conflict, and the replay left no provider material.
func idempotencyKeyOnCreate(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	api := tg.client(t, tg.token)
	path := "/api/companies/" + companyA + "/secrets"
	first := api.must(201, "POST", path, `{"name": "Once", "value": "v"}`, "Idempotency-Key", "k-1")
	again := api.must(201, "POST", path, `{"name": "Once", "value": "v"}`, "Idempotency-Key", "k-1")
	if first.json(t)["id"] != again.json(t)["id"] || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry created another secret: %s vs %s", first.body, again.body)
	}
	api.must(409, "POST", path, `{"name": "Twice", "value": "v"}`, "Idempotency-Key", "k-1")
	if l := api.must(200, "GET", path, "").list(t); len(l) != 1 {
		t.Fatalf("secrets after retries: %d", len(l))
	}
	if out, _ := tg.psql(t, `SELECT count(*) FROM local_secret_values JOIN local_secret_keys USING (secret_id) WHERE company_id = '`+companyA+`'`); strings.TrimSpace(out) != "1" {
		t.Fatalf("replayed request left provider material: %s rows", out)
	}
}

// With a short LEDGER_IDEMPOTENCY_TTL a key is taken, then free again once it expired,
// and the server's sweep removes expired keys.
func TestIdempotencyKeysExpireInServe(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = append(e.vars, "LEDGER_IDEMPOTENCY_TTL=1s")
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	path := "/api/companies/" + companyA + "/secrets"
	api.must(201, "POST", path, `{"name": "First", "value": "v"}`, "Idempotency-Key", "k-ttl")
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := api.do("POST", path, `{"name": "Second", "value": "v"}`, "Idempotency-Key", "k-ttl")
		if r.status == 201 {
			break
		}
		if r.status != 409 || time.Now().After(deadline) {
			t.Fatalf("reusing the key: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond) // polling the expiry, which is the condition under test
	}
	// The sweep runs every second with this TTL: the table empties by itself.
	for {
		out, err := e.psql(t, `SELECT count(*) FROM ledger_idempotency_keys`)
		if err == nil && strings.TrimSpace(out) == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired keys were not swept: %q %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
