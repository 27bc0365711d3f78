package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/commands"
)

// idemCase is one command route sent with an Idempotency-Key: its body (made from the
// fixtures' ids), another body for the same route (nil when the route takes none: the
// other body is then "{}"), what must be true before it
// (setup), what puts the stack back after it (after), and its first answer's status.
type idemCase struct {
	body, other func(ids map[string]string) string
	setup       func(s *stack, ids map[string]string)
	after       func(s *stack)
	status      int
}

func text(s string) func(map[string]string) string {
	return func(ids map[string]string) string { return expand(s, ids) }
}

// expand puts the fixtures' ids into a body: $secret, $lsecret (lower case), $policy
// (the external policy's version as read by the setup).
func expand(s string, ids map[string]string) string {
	return strings.NewReplacer("$secret", ids["secrets"], "$lsecret", strings.ToLower(ids["secrets"]),
		"$policy", ids["policy"]).Replace(s)
}

func setFreeze(frozen bool, targetType, targetID string) func(s *stack) {
	return func(s *stack) {
		if _, err := s.commands.Incidents.Freeze(context.Background(), boardReq, commands.SetFreeze{Consumer: commands.Consumer{
			CompanyID: companyA, TargetType: targetType, TargetID: targetID}, Frozen: frozen, Reason: "test"}); err != nil {
			s.t.Fatal(err)
		}
	}
}

func withIDs(f func(s *stack)) func(s *stack, ids map[string]string) {
	return func(s *stack, _ map[string]string) { f(s) }
}

// idemCases holds every route whose document offers Idempotency-Key; the test fails
// for a route of the document missing here, so a new command cannot be left out.
var idemCases = map[string]idemCase{
	"POST /api/companies/{companyId}/secrets": {status: 201,
		body: text(`{"name": "idem $secret", "value": "v1"}`), other: text(`{"name": "idem other $secret", "value": "v1"}`)},
	"PATCH /api/secrets/{id}": {status: 200,
		body: text(`{"description": "retried"}`), other: text(`{"description": "another"}`)},
	"DELETE /api/secrets/{id}": {status: 200},
	"POST /api/secrets/{id}/rotate": {status: 200,
		body: text(`{"value": "v2"}`), other: text(`{"value": "v3"}`)},
	"POST /api/secrets/{id}/restore": {status: 200, setup: func(s *stack, ids map[string]string) {
		if _, err := s.commands.Secrets.Delete(context.Background(), boardReq, ids["secrets"]); err != nil {
			s.t.Fatal(err)
		}
	}},
	"POST /api/secrets/{id}/purge": {status: 200,
		body: text(`{"confirm": "$secret"}`), other: text(`{"confirm": "another"}`)},
	"POST /api/companies/{companyId}/secret-bindings": {status: 201,
		body:  text(`{"secretId": "$secret", "targetType": "agent", "targetId": "y", "configPath": "idem_$lsecret"}`),
		other: text(`{"secretId": "$secret", "targetType": "agent", "targetId": "y", "configPath": "other_$lsecret"}`)},
	"DELETE /api/secret-bindings/{id}": {status: 200},
	"PUT /api/companies/{companyId}/consumers/{targetType}/{targetId}/env": {status: 200,
		body:  text(`{"env": {"IDEM": {"type": "plain", "value": "one $lsecret"}}}`),
		other: text(`{"env": {"IDEM": {"type": "plain", "value": "two"}}}`)},
	"POST /api/companies/{companyId}/agent-keys": {status: 201,
		body: text(`{"targetType": "agent", "targetId": "y", "label": "idem"}`), other: text(`{"targetType": "agent", "targetId": "y", "label": "other"}`)},
	"DELETE /api/agent-keys/{id}": {status: 200},
	"POST /api/companies/{companyId}/freeze": {status: 200, after: setFreeze(false, "", ""),
		body: text(`{"reason": "idem"}`), other: text(`{"reason": "another"}`)},
	"POST /api/companies/{companyId}/unfreeze": {status: 200, setup: withIDs(setFreeze(true, "", "")),
		body: text(`{"reason": "over"}`), other: text(`{"reason": "another"}`)},
	"POST /api/companies/{companyId}/consumers/{targetType}/{targetId}/freeze": {status: 200, after: setFreeze(false, "agent", "y"),
		body: text(`{"reason": "idem"}`), other: text(`{"reason": "another"}`)},
	"POST /api/companies/{companyId}/consumers/{targetType}/{targetId}/unfreeze": {status: 200,
		setup: withIDs(setFreeze(true, "agent", "y")), body: text(`{"reason": "over"}`), other: text(`{"reason": "another"}`)},
	"POST /api/companies/{companyId}/consumers/{targetType}/{targetId}/agent-keys/revoke": {status: 200},
	"PUT /api/companies/{companyId}/external-policy": {status: 200, setup: func(s *stack, ids map[string]string) {
		var p struct{ Version int64 }
		rec := s.do(newRequest(http.MethodGet, "/api/companies/"+companyA+"/external-policy", ""), s.board)
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
			s.t.Fatalf("read the external policy: %d %s", rec.Code, rec.Body)
		}
		ids["policy"] = strconv.FormatInt(p.Version, 10)
	}, body: text(`{"prefixes": ["idem-$lsecret/"], "version": $policy}`), other: text(`{"prefixes": ["other/"], "version": $policy}`)},
	"POST /api/companies/{companyId}/secret-provider-configs": {status: 201,
		body:  text(`{"displayName": "idem $lsecret", "provider": "local_encrypted"}`),
		other: text(`{"displayName": "other $lsecret", "provider": "local_encrypted"}`)},
	"PATCH /api/secret-provider-configs/{id}": {status: 200,
		body: text(`{"displayName": "renamed $lsecret"}`), other: text(`{"displayName": "other $lsecret"}`)},
	"DELETE /api/secret-provider-configs/{id}":       {status: 200},
	"POST /api/secret-provider-configs/{id}/default": {status: 200},
	"POST /api/secret-provider-configs/{id}/health":  {status: 200},
	"POST /api/companies/{companyId}/event-subscribers": {status: 201,
		body: text(`{"label": "idem"}`), other: text(`{"label": "other"}`)},
	"DELETE /api/companies/{companyId}/event-subscribers/{id}": {status: 200},
}

// idemRequest is one request of a case with the key.
func idemRequest(method, path, body, key string) *http.Request {
	req := newRequest(method, path, body)
	req.Header.Set("Idempotency-Key", key)
	return req
}

// Every command route the document offers Idempotency-Key on, sent twice with one
// key: the retry is the first answer again (status, body, X-Ledger-Position) with
// Idempotent-Replayed: true and appends nothing; the key with another body, or on
// another route, is 409 ECONFLICT and appends nothing either.
func TestEveryIdempotentCommandReplaysItsFirstAnswer(t *testing.T) {
	t.Parallel()
	documented, err := idempotentRoutes()
	if err != nil {
		t.Fatal(err)
	}
	if len(documented) < 20 {
		t.Fatalf("the document offers Idempotency-Key on %d routes only", len(documented))
	}
	for op := range idemCases {
		if !documented[op] {
			t.Errorf("%s is in the table but its document does not offer Idempotency-Key", op)
		}
	}
	s := newStack(t)
	for _, op := range slices.Sorted(func(yield func(string) bool) {
		for op := range documented {
			if !yield(op) {
				return
			}
		}
	}) {
		c, ok := idemCases[op]
		if !ok {
			t.Errorf("%s offers Idempotency-Key but is not in idemCases", op)
			continue
		}
		method, tpl, _ := strings.Cut(op, " ")
		ids := s.fixtures()
		if c.setup != nil {
			c.setup(s, ids)
		}
		path, key := fill(tpl, ids), "idem-"+strings.ToLower(ids["secrets"])
		body := func(f func(map[string]string) string) string {
			if f == nil {
				return ""
			}
			return f(ids)
		}
		first := s.do(idemRequest(method, path, body(c.body), key), s.board)
		if first.Code != c.status {
			t.Errorf("%s: the first answer is %d %s, want %d", op, first.Code, first.Body, c.status)
			continue
		}
		head := s.head()
		again := s.do(idemRequest(method, path, body(c.body), key), s.board)
		if again.Code != first.Code || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) ||
			again.Header().Get("Idempotent-Replayed") != "true" ||
			again.Header().Get("X-Ledger-Position") != first.Header().Get("X-Ledger-Position") ||
			again.Header().Get("Cache-Control") != first.Header().Get("Cache-Control") {
			t.Errorf("%s: the retry answered %d %v %s, the first %d %v %s", op, again.Code, again.Header(), again.Body,
				first.Code, first.Header(), first.Body)
		}
		if s.head() != head {
			t.Errorf("%s: the retry appended (head %d → %d)", op, head, s.head())
		}
		otherBody := body(c.other)
		if c.other == nil {
			otherBody = "{}" // what a route without a body accepts too, but another body
		}
		for what, req := range map[string]*http.Request{
			"another body":  idemRequest(method, path, otherBody, key),
			"another route": idemRequest(http.MethodPost, "/api/companies/"+companyA+"/freeze", `{"reason": "reused key"}`, key),
		} {
			rec := s.do(req, s.board)
			if rec.Code != 409 || !strings.Contains(rec.Body.String(), `"code":"ECONFLICT"`) {
				t.Errorf("%s: the key with %s answered %d %s, want 409 ECONFLICT", op, what, rec.Code, rec.Body)
			}
			if s.head() != head {
				t.Errorf("%s: the key with %s appended", op, what)
				head = s.head()
			}
		}
		if c.after != nil {
			c.after(s)
		}
	}
}

// A credential minted once is answered again to the same caller only, from an answer
// the database alone cannot read; when that answer is gone (the process stopped before
// keeping it), the retry is refused rather than mint a second live credential.
func TestAMintedCredentialIsReplayedToItsCallerOnly(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	path := "/api/companies/" + companyA + "/agent-keys"
	body := `{"targetType": "agent", "targetId": "z", "label": "once"}`
	liveKeys := func() int {
		var n int
		if err := s.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM agent_keys WHERE target_id = 'z' AND revoked_at IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := s.do(idemRequest(http.MethodPost, path, body, "mint-1"), s.board)
	wantStatus(t, first, 201, "issue")
	var issued struct{ ID, Token string }
	if err := json.Unmarshal(first.Body.Bytes(), &issued); err != nil || issued.Token == "" {
		t.Fatalf("issue answer: %s", first.Body)
	}
	again := s.do(idemRequest(http.MethodPost, path, body, "mint-1"), s.board)
	if again.Code != 201 || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v %s", again.Code, again.Header(), again.Body)
	}
	// The replayed token is the one that works, and it is the only key issued.
	if rec := s.do(newRequest(http.MethodPost, "/api/runtime/resolve", ""), issued.Token); rec.Code != 200 {
		t.Fatalf("resolve with the replayed token: %d %s", rec.Code, rec.Body)
	}
	if n := liveKeys(); n != 1 {
		t.Fatalf("%d live keys after a retry, want 1", n)
	}
	// The database keeps the answer sealed: neither the token nor its secret part.
	var sealed []byte
	if err := s.pool.QueryRow(context.Background(), `SELECT sealed_answer FROM ledger_idempotent_answers
		WHERE idempotency_key = 'mint-1'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	_, secretPart, _ := strings.Cut(issued.Token, ".")
	if bytes.Contains(sealed, []byte(issued.Token)) || (secretPart != "" && bytes.Contains(sealed, []byte(secretPart))) ||
		bytes.Contains(sealed, []byte(`"token"`)) {
		t.Fatal("the kept answer holds the token in the clear")
	}
	// Another caller with the same key and body is not given the token.
	_, other := s.newToken(nil)
	rec := s.do(idemRequest(http.MethodPost, path, body, "mint-1"), other)
	if rec.Code != 409 || strings.Contains(rec.Body.String(), issued.Token) {
		t.Fatalf("the key from another caller: %d %s", rec.Code, rec.Body)
	}
	// The first answer lost before it was kept: the retry writes nothing and mints nothing.
	if _, err := s.pool.Exec(context.Background(), `DELETE FROM ledger_idempotent_answers`); err != nil {
		t.Fatal(err)
	}
	head := s.head()
	rec = s.do(idemRequest(http.MethodPost, path, body, "mint-1"), s.board)
	if rec.Code != 409 || s.head() != head || liveKeys() != 1 {
		t.Fatalf("a retry whose answer was not kept: %d %s, head %d → %d, %d live keys", rec.Code, rec.Body, head, s.head(), liveKeys())
	}
}

// A kept answer altered in the database, or moved to another caller's key, does not
// open: the retry is an error, never an answer the database made up.
func TestAKeptAnswerAlteredInTheDatabaseIsNotReplayed(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	path := "/api/companies/" + companyA + "/secrets"
	body := `{"name": "sealed", "value": "v"}`
	wantStatus(t, s.do(idemRequest(http.MethodPost, path, body, "seal-1"), s.board), 201, "create")
	if _, err := s.pool.Exec(context.Background(), `UPDATE ledger_idempotent_answers
		SET sealed_answer = overlay(sealed_answer placing '\x00'::bytea from 20 for 1) WHERE idempotency_key = 'seal-1'`); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := idemRequest(http.MethodPost, path, body, "seal-1")
	req.Header.Set("Authorization", "Bearer "+s.board)
	s.router.ServeHTTP(rec, req)
	if rec.Code != 500 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("an altered kept answer: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}
