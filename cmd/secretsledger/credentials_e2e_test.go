package main

// End-to-end tests of credentials against someone who can write to the database: with
// the runtime role's URL (`db url`) they try to add a board token, a console session
// and an agent key of their own; with the owner's they add rows without the integrity
// key. None of them authenticates. Credentials made before hashes were keyed keep
// working after the upgrade.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// runtimeDB connects to the instance's database as the runtime role (`db url`).
func (e *instanceEnv) runtimeDB(t *testing.T) *pgx.Conn {
	t.Helper()
	code, dbURL, errOut := e.run(t, "db", "url")
	if code != 0 {
		t.Fatalf("db url: exit %d\n%s", code, errOut)
	}
	conn, err := pgx.Connect(context.Background(), strings.TrimSpace(dbURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// forgeAgentKey appends, on db, an agent_key.issued event of schema for a key of
// consumer agent/targetID whose token is token, with tokenField holding the token's bare
// SHA-256 (what a writer without the integrity key can compute), and the read-model row
// that indexes it. It returns the event's position.
func forgeAgentKey(t *testing.T, db *pgx.Conn, schema int, tokenField, targetID, token string) int64 {
	t.Helper()
	ctx := context.Background()
	id := ulid.Make().String()
	waitSealed(t, db) // the forgery goes at the sealed head, past every acknowledged event
	payload := fmt.Sprintf(`{"keyId": %q, "targetType": "agent", "targetId": %q, %q: %q}`, id, targetID, tokenField, sha256Hex(token))
	if _, err := db.Exec(ctx, pgtest.ForgedAppend(pgtest.Forged{EventID: ulid.Make().String(), StreamID: "agent-key-" + id,
		StreamVersion: 1, Type: "agent_key.issued", SchemaVersion: schema, CompanyID: companyA, Payload: payload})); err != nil {
		t.Fatalf("forge agent_key.issued: %v", err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO agent_keys (id, company_id, target_type, target_id, token_hash, created_by, created_at)
		VALUES ($1, $2, 'agent', $3, decode($4, 'hex'), 'board:forger', now())`, id, companyA, targetID, sha256Hex(token)); err != nil {
		t.Fatalf("forge the agent_keys row: %v", err)
	}
	var pos int64
	if err := db.QueryRow(ctx, `SELECT position FROM ledger_events WHERE stream_id = $1`, "agent-key-"+id).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	return pos
}

// consoleWith asks for a console page with the session cookie id, not following
// redirects, and returns the status.
func (e *instanceEnv) consoleWith(t *testing.T, id string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+"/console/ledger", nil)
	req.AddCookie(&http.Cookie{Name: "ledger_console", Value: id})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

func TestADatabaseWriterCannotMintACredential(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	id := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "k", "value": "v"}`).json(t)["id"].(string)
	board.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "a1", "configPath": "key"}`)
	issued := board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "a1"}`).json(t)["token"].(string)
	e.client(t, issued).must(200, "POST", "/api/runtime/resolve", `{}`)
	runtime, owner := e.runtimeDB(t), e.ownerDB(t)
	ctx := context.Background()

	// A board token: the runtime role may not write board_tokens at all.
	_, err := runtime.Exec(ctx, `INSERT INTO board_tokens (id, token_hash) VALUES ('tok_forged', sha256('slb_x'))`)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("INSERT INTO board_tokens as the runtime role: %v, want permission denied", err)
	}
	// The owner can, but without the integrity key the row matches no token.
	if _, err := owner.Exec(ctx, `INSERT INTO board_tokens (id, token_hash) VALUES ('tok_unkeyed', sha256('slb_y'))`); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"slb_x", "slb_y"} {
		e.client(t, token).must(401, "GET", "/api/companies/"+companyA+"/secrets", "")
	}

	// A console session of the instance token, written by the runtime role (which adds
	// sessions on sign-in): its cookie signs no one in.
	if _, err := runtime.Exec(ctx, `INSERT INTO console_sessions (id_hash, token_id, expires_at)
		SELECT sha256('forged-session'), id, now() + interval '1 hour' FROM board_tokens WHERE id <> 'tok_unkeyed'`); err != nil {
		t.Fatalf("insert a console session as the runtime role: %v", err)
	}
	if code := e.consoleWith(t, "forged-session"); code != http.StatusSeeOther {
		t.Fatalf("a forged session cookie: %d, want 303 to the sign-in page", code)
	}

	// Agent keys appended to the log by the runtime role, with a correct chain hash and
	// the read-model row: of the old schema (a bare hash, after the legacy events), and
	// of the new with a bare hash where the keyed one belongs. Both reach this server's
	// memory through its tail, and a replay's read models; neither authenticates.
	forgeAgentKey(t, runtime, 1, "tokenHash", "a1", "sla_forged1")
	forgeAgentKey(t, runtime, 2, "tokenKeyedHash", "a1", "sla_forged2")
	for _, token := range []string{"sla_forged1", "sla_forged2"} {
		e.client(t, token).must(401, "POST", "/api/runtime/resolve", `{}`)
	}
	s.stop(t)
	if code, _, errOut := e.run(t, "replay"); code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, errOut)
	}
	s = e.serve(t)
	e.waitReady(t, s)
	for _, token := range []string{"sla_forged1", "sla_forged2"} {
		e.client(t, token).must(401, "POST", "/api/runtime/resolve", `{}`)
	}
	e.client(t, issued).must(200, "POST", "/api/runtime/resolve", `{}`)
	board.must(200, "GET", "/api/companies/"+companyA+"/secrets", "")
	s.stop(t)
}

// A board token and an agent key made before hashes were keyed (a bare SHA-256 each,
// the token's row not keyed, the key's event of schema 1 among the legacy events) keep
// working once the next start has keyed the token's hash, which it does once however
// often the ledger starts.
func TestCredentialsFromBeforeKeyedHashesKeepWorking(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	id := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "k", "value": "v"}`).json(t)["id"].(string)
	board.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+id+`", "targetType": "agent", "targetId": "a1", "configPath": "key"}`)
	owner := e.ownerDB(t)
	ctx := context.Background()
	// What an instance from before holds: rows and events as the old ledger wrote them.
	if _, err := owner.Exec(ctx, `INSERT INTO board_tokens (id, token_hash, keyed, label)
		VALUES ('tok_old', sha256('slb_old'), false, 'from before')`); err != nil {
		t.Fatal(err)
	}
	pos := forgeAgentKey(t, owner, 1, "tokenHash", "a1", "sla_old")
	if _, err := owner.Exec(ctx, `UPDATE ledger_integrity SET legacy_through = $1`, pos); err != nil {
		t.Fatal(err)
	}
	e.client(t, "slb_old").must(401, "GET", "/api/companies/"+companyA+"/secrets", "") // not keyed yet
	s.stop(t)

	key, err := integrity.Load(filepath.Join(e.home, "instances", "default", "secrets", "integrity.key"))
	if err != nil {
		t.Fatal(err)
	}
	for start := range 2 {
		s = e.serve(t)
		e.waitReady(t, s)
		e.client(t, "slb_old").must(200, "GET", "/api/companies/"+companyA+"/secrets", "")
		e.client(t, "sla_old").must(200, "POST", "/api/runtime/resolve", `{}`)
		var stored []byte
		var keyed bool
		if err := e.ownerDB(t).QueryRow(ctx, `SELECT token_hash, keyed FROM board_tokens WHERE id = 'tok_old'`).Scan(&stored, &keyed); err != nil {
			t.Fatal(err)
		}
		if !keyed || !bytes.Equal(stored, key.CredentialHash("slb_old")) {
			t.Fatalf("start %d: the old token's row: keyed %v, hash %x; want its keyed hash, keyed once", start, keyed, stored)
		}
		if logged := strings.Contains(s.stderr.String(), "keyed the stored hashes of board tokens"); logged != (start == 0) {
			t.Fatalf("start %d: keying logged %v", start, logged)
		}
		s.stop(t)
	}
}

// NATS admits subscribers by JWTs signed with the account key (outside the database),
// but serve keeps a consumer for every active subscriber at start. A subscriber row
// moved to another company, or revived after its revocation, by the runtime role must
// not point a consumer that an issued JWT pulls from at that company's events.
func TestADatabaseWriterCannotRetargetASubscriber(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	moved := api.subscriber(t, companyA)
	revoked := api.subscriber(t, companyA)
	api.must(200, "DELETE", "/api/companies/"+companyA+"/event-subscribers/"+revoked.SubscriberID, "")
	runtime := e.runtimeDB(t)
	for _, stmt := range []string{
		`UPDATE event_subscribers SET company_id = '` + companyB + `' WHERE id = '` + moved.SubscriberID + `'`,
		`UPDATE event_subscribers SET revoked_at = NULL WHERE id = '` + revoked.SubscriberID + `'`,
	} {
		if _, err := runtime.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	s.stop(t)
	s = e.serve(t)
	e.waitReady(t, s)
	js := e.ledgerJetStream(t)
	c, err := js.Consumer(context.Background(), natsbus.StreamName, moved.SubscriberID)
	if err != nil {
		t.Fatal(err)
	}
	if f := c.CachedInfo().Config.FilterSubject; f != "ledger."+companyA+".>" {
		t.Fatalf("the moved subscriber's consumer follows %q, want company A's events only", f)
	}
	if _, err := js.Consumer(context.Background(), natsbus.StreamName, revoked.SubscriberID); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("the revived subscriber's consumer: %v, want none", err)
	}
	s.stop(t)
}
