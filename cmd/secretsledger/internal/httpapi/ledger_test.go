package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

const (
	companyC = "cccccccc-0000-4000-8000-000000000003"
	companyD = "dddddddd-0000-4000-8000-000000000004"
	companyE = "eeeeeeee-0000-4000-8000-000000000005" // never used: a token may list it all the same
)

type companyItem struct {
	ID        string `json:"id"`
	Secrets   int64  `json:"secrets"`
	Bindings  int64  `json:"bindings"`
	AgentKeys int64  `json:"agentKeys"`
	Vaults    int64  `json:"vaults"`
}

type companyPage struct {
	Items      []companyItem `json:"items"`
	NextCursor *string       `json:"nextCursor"`
}

// companyList reads one page of GET /api/companies?query.
func companyList(t *testing.T, s *stack, query, token string) companyPage {
	t.Helper()
	req := newRequest(http.MethodGet, "/api/companies", "")
	req.URL.RawQuery = query
	rec := s.do(req, token)
	wantStatus(t, rec, 200, "GET /api/companies?"+query)
	var p companyPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// An instance-wide token sees every company any read model holds, with its counts; a
// token limited to companies sees exactly those, counts of zero included; pages are
// bounded and continue without gaps or repeats; bad paging is 400.
func TestListCompanies(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.fixtures() // company A: a secret, a binding, agent keys of agent/x and agent/y, a vault
	seedCompaniesBToD(t, s)

	want := []companyItem{
		{ID: companyA, Secrets: 1, Bindings: 1, AgentKeys: 2, Vaults: 1},
		{ID: companyB, Secrets: 2},
		{ID: companyC},
		{ID: companyD},
	}
	all := companyList(t, s, "", s.board)
	if !equalCompanies(all.Items, want) || all.NextCursor != nil {
		t.Fatalf("instance-wide token: %+v, want %+v", all, want)
	}

	// Pages of 1 and of 3 walk the same list.
	pagesWalkTheSameCompanies(t, s, want)

	// Limited tokens: exactly their companies, whether or not the ledger holds anything.
	limitedTokensListTheirCompanies(t, s)

	badCursor := base64.RawURLEncoding.EncodeToString([]byte(`[1, 2]`))
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=not-a-cursor!", "cursor=" + badCursor} {
		req := newRequest(http.MethodGet, "/api/companies", "")
		req.URL.RawQuery = q
		wantStatus(t, s.do(req, s.board), 400, "GET /api/companies?"+q)
	}
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/companies", ""), s.agent), 403, "an agent key")
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/companies", ""), ""), 401, "no token")
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/companies", ""), s.revoked), 401, "a revoked token")
}

// seedCompaniesBToD gives company B secrets, C a consumer env and D a revoked agent key.
func seedCompaniesBToD(t *testing.T, s *stack) {
	t.Helper()
	ctx := context.Background()
	newSecret := func(company, name string) string {
		v := providers.NewValue([]byte("v"))
		res, err := s.commands.Secrets.Create(ctx, boardReq, commands.CreateSecret{CompanyID: company, Name: name, Value: &v})
		if err != nil {
			t.Fatal(err)
		}
		return res.SecretID
	}
	// Company B: one live secret, one soft-deleted (counted), one purged (not counted).
	newSecret(companyB, "live")
	if _, err := s.commands.Secrets.Delete(ctx, boardReq, newSecret(companyB, "deleted")); err != nil {
		t.Fatal(err)
	}
	purged := newSecret(companyB, "purged")
	if _, err := s.commands.Secrets.Purge(ctx, boardReq, purged, purged); err != nil {
		t.Fatal(err)
	}
	// Company C holds a consumer env only; company D a revoked agent key only.
	mode := providers.NewValue([]byte("on"))
	if _, err := s.commands.Consumers.PutEnv(ctx, boardReq, commands.SetEnv{Consumer: commands.Consumer{CompanyID: companyC, TargetType: "agent", TargetID: "c"},
		Env: map[string]commands.EnvInput{"MODE": {Type: "plain", Value: &mode}}}); err != nil {
		t.Fatal(err)
	}
	key, err := s.commands.AgentKeys.IssueKey(ctx, boardReq, commands.IssueAgentKey{Consumer: commands.Consumer{CompanyID: companyD, TargetType: "agent", TargetID: "d"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.commands.AgentKeys.RevokeKey(ctx, boardReq, key.KeyID); err != nil {
		t.Fatal(err)
	}
}

func pagesWalkTheSameCompanies(t *testing.T, s *stack, want []companyItem) {
	t.Helper()
	for _, limit := range []int{1, 3} {
		var walked []companyItem
		query := "limit=" + strconv.Itoa(limit)
		for range len(want) + 1 {
			p := companyList(t, s, query, s.board)
			if len(p.Items) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(p.Items))
			}
			walked = append(walked, p.Items...)
			if p.NextCursor == nil {
				break
			}
			query = "limit=" + strconv.Itoa(limit) + "&cursor=" + *p.NextCursor
		}
		if !equalCompanies(walked, want) {
			t.Fatalf("limit %d: walked %+v, want %+v", limit, walked, want)
		}
	}
}

func limitedTokensListTheirCompanies(t *testing.T, s *stack) {
	t.Helper()
	if got := companyList(t, s, "", s.boardB); !equalCompanies(got.Items, []companyItem{{ID: companyB, Secrets: 2}}) {
		t.Fatalf("token of company B: %+v", got)
	}
	_, be := s.newToken([]string{companyE, companyB})
	if got := companyList(t, s, "", be); !equalCompanies(got.Items, []companyItem{{ID: companyB, Secrets: 2}, {ID: companyE}}) {
		t.Fatalf("token of companies E and B: %+v", got)
	}
	if got := companyList(t, s, "limit=1", be); len(got.Items) != 1 || got.Items[0].ID != companyB || got.NextCursor == nil {
		t.Fatalf("token of companies E and B, limit 1: %+v", got)
	} else if next := companyList(t, s, "limit=1&cursor="+*got.NextCursor, be); len(next.Items) != 1 || next.Items[0].ID != companyE || next.NextCursor != nil {
		t.Fatalf("token of companies E and B, second page: %+v", next)
	}
}

func equalCompanies(got, want []companyItem) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

type ledgerAnswer struct {
	Head struct {
		Position   int64      `json:"position"`
		Hash       *string    `json:"hash"`
		RecordedAt *time.Time `json:"recordedAt"`
	} `json:"head"`
	Checkpoint *struct {
		Position       int64  `json:"position"`
		Hash           string `json:"hash"`
		InstanceID     string `json:"instanceId"`
		PublicKey      string `json:"publicKey"`
		SignatureValid bool   `json:"signatureValid"`
	} `json:"checkpoint"`
	Verification struct {
		OK        bool      `json:"ok"`
		From      int64     `json:"from"`
		To        int64     `json:"to"`
		Checked   int64     `json:"checked"`
		BrokenAt  int64     `json:"brokenAt"`
		Reason    *string   `json:"reason"`
		CheckedAt time.Time `json:"checkedAt"`
	} `json:"verification"`
	Relay *struct {
		Cursor     int64   `json:"cursor"`
		Head       int64   `json:"head"`
		LagEvents  int64   `json:"lagEvents"`
		LagSeconds float64 `json:"lagSeconds"`
	} `json:"relay"`
}

// ledgerState asks GET /api/ledger of a router whose Ledger is l: a new l is a new
// process, with no verification cached.
func ledgerState(t *testing.T, s *stack, l *queries.Ledger) ledgerAnswer {
	t.Helper()
	api := *s.api
	api.Ledger.Status = l
	c := *s
	c.router = NewRouter(Deps{Log: slog.New(slog.DiscardHandler), API: &api})
	rec := c.do(newRequest(http.MethodGet, "/api/ledger", ""), s.board)
	wantStatus(t, rec, 200, "GET /api/ledger")
	if strings.Contains(rec.Body.String(), "fixture") {
		t.Fatalf("the answer holds event content: %s", rec.Body)
	}
	var a ledgerAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (s *stack) newLedger() *queries.Ledger { return &queries.Ledger{Store: s.store, DB: s.pool} }

// signHead records a checkpoint of the head, once the sealer chained what was
// appended, signed by key and stored with pub.
func (s *stack) signHead(key ed25519.PrivateKey, pub ed25519.PublicKey) int64 {
	s.t.Helper()
	ctx := context.Background()
	s.sealedHead()
	h, err := s.store.Head(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	c := checkpoint.Sign(key, checkpoint.Checkpoint{Position: h.Position, Hash: h.Hash, RecordedAt: h.RecordedAt, InstanceID: "test"})
	if _, err := s.store.RecordCheckpoint(ctx, c, checkpoint.PublicKeyText(pub)); err != nil {
		s.t.Fatal(err)
	}
	return h.Position
}

// GET /api/ledger: the head after appends, the newest checkpoint and its signature, the
// verification of the chain from it (cached per process, bounded, anchored by the
// checkpoint: an edit, a re-hash through the checkpoint and a truncation before it are
// each found), and the relay's lag.
func TestLedgerState(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lr := &ledgerRun{s: s}

	// No checkpoint, no relay yet: the whole chain is verified.
	lr.wholeChainVerified(t)

	// A checkpoint whose signature is not its stored key's is reported as such.
	forged := s.signHead(otherKey, pub)
	if a := ledgerState(t, s, s.newLedger()); a.Checkpoint == nil || a.Checkpoint.Position != forged || a.Checkpoint.SignatureValid {
		t.Fatalf("forged checkpoint: %+v", a.Checkpoint)
	}
	// A valid one: the walk starts from it.
	lr.walkStartsAtTheCheckpoint(t, key, pub)

	// An edit after the checkpoint: the process that verified keeps its answer for the
	// cache's time; a process that verifies now finds it.
	lr.editAfterTheCheckpointFound(t)

	// The checkpoint's event edited and every later hash recomputed: internally
	// consistent, but not the signed history, and the recomputed rows carry no valid MAC.
	lr.rehashFromTheCheckpointFound(t)

	// The relay's cursor, read from the database.
	lr.relayLag(t)

	// The log cut short before the checkpoint.
	lr.truncationFound(t)

	// Any board token; an agent key is refused.
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/ledger", ""), s.agent), 403, "an agent key")
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/ledger", ""), ""), 401, "no token")
}

// ledgerRun carries what the steps of TestLedgerState learn: the signed checkpoint's
// position, the head after it, and the process (led) whose answer (verified) is cached.
type ledgerRun struct {
	s            *stack
	signed, head int64
	led          *queries.Ledger
	verified     ledgerAnswer
}

func (lr *ledgerRun) wholeChainVerified(t *testing.T) {
	t.Helper()
	s := lr.s
	s.fixtures()
	head := s.sealedHead()
	a := ledgerState(t, s, s.newLedger())
	var hash []byte
	if err := s.pool.QueryRow(context.Background(), `SELECT hash FROM ledger_events WHERE position = $1`, head).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if a.Head.Position != head || a.Head.Hash == nil || *a.Head.Hash != hex.EncodeToString(hash) || a.Head.RecordedAt == nil {
		t.Fatalf("head = %+v, want position %d hash %x", a.Head, head, hash)
	}
	v := a.Verification
	if a.Checkpoint != nil || a.Relay != nil || !v.OK || v.From != 1 || v.To != head || v.Checked != head || v.BrokenAt != 0 || v.Reason != nil {
		t.Fatalf("before any checkpoint: %+v", a)
	}
}

func (lr *ledgerRun) walkStartsAtTheCheckpoint(t *testing.T, key ed25519.PrivateKey, pub ed25519.PublicKey) {
	t.Helper()
	s := lr.s
	s.fixtures()
	signed := s.signHead(key, pub)
	s.fixtures()
	head := s.sealedHead()
	led := s.newLedger()
	a := ledgerState(t, s, led)
	v := a.Verification
	if c := a.Checkpoint; c == nil || c.Position != signed || !c.SignatureValid || c.InstanceID != "test" || c.PublicKey != checkpoint.PublicKeyText(pub) || len(c.Hash) != 64 {
		t.Fatalf("checkpoint = %+v, want a valid one at %d", c, signed)
	}
	if a.Head.Position != head || !v.OK || v.From != signed || v.To != head || v.Checked != head-signed+1 {
		t.Fatalf("verification from the checkpoint at %d to %d: %+v", signed, head, v)
	}
	lr.signed, lr.head, lr.led, lr.verified = signed, head, led, a
}

func (lr *ledgerRun) editAfterTheCheckpointFound(t *testing.T) {
	t.Helper()
	s, head, v := lr.s, lr.head, lr.verified.Verification
	pgtest.Tamper(t, s.ownerURL, `UPDATE ledger_events SET metadata = '{"actorId": "someone-else"}' WHERE position = `+strconv.FormatInt(head, 10))
	if again := ledgerState(t, s, lr.led); !again.Verification.OK || !again.Verification.CheckedAt.Equal(v.CheckedAt) {
		t.Fatalf("within the cache's time: %+v, want the cached %+v", again.Verification, v)
	}
	if v := ledgerState(t, s, s.newLedger()).Verification; v.OK || v.BrokenAt != head || v.Reason == nil || !strings.HasPrefix(*v.Reason, "edited") {
		t.Fatalf("after an edit at %d: %+v", head, v)
	}
	short := &queries.Ledger{Store: s.store, DB: s.pool, VerifyCacheFor: time.Nanosecond}
	ledgerState(t, s, short)
	if v := ledgerState(t, s, short).Verification; v.OK || v.BrokenAt != head {
		t.Fatalf("with a short cache, after an edit at %d: %+v", head, v)
	}
}

func (lr *ledgerRun) rehashFromTheCheckpointFound(t *testing.T) {
	t.Helper()
	s, signed, head := lr.s, lr.signed, lr.head
	pgtest.Tamper(t, s.ownerURL, `UPDATE ledger_events SET metadata = '{"actorId": "someone-else"}' WHERE position = `+strconv.FormatInt(signed, 10),
		pgtest.RehashFrom(signed))
	if v := ledgerState(t, s, s.newLedger()).Verification; v.OK || v.BrokenAt != signed || v.Reason == nil || !strings.HasPrefix(*v.Reason, "forged (no valid MAC)") {
		t.Fatalf("after a re-hash from the checkpoint at %d: %+v", signed, v)
	}
	// Bounded: the newest 3 events only, which no longer reach the checkpoint; their MACs
	// still tell.
	if v := ledgerState(t, s, &queries.Ledger{Store: s.store, DB: s.pool, VerifyMax: 3}).Verification; v.OK || v.From != head-2 || v.BrokenAt != head-2 {
		t.Fatalf("at most 3 events: %+v", v)
	}
}

func (lr *ledgerRun) relayLag(t *testing.T) {
	t.Helper()
	s, head := lr.s, lr.head
	for _, tc := range []struct {
		cursor, lag int64
	}{{head - 2, 2}, {head, 0}, {head + 1, -1}} {
		if _, err := s.pool.Exec(context.Background(), `INSERT INTO relay_cursors (name, position) VALUES ('nats', $1)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()`, tc.cursor); err != nil {
			t.Fatal(err)
		}
		r := ledgerState(t, s, s.newLedger()).Relay
		if r == nil || r.Cursor != tc.cursor || r.Head != head || r.LagEvents != tc.lag || (tc.lag > 0) != (r.LagSeconds > 0) {
			t.Fatalf("relay with the cursor at %d of %d: %+v", tc.cursor, head, r)
		}
	}
}

func (lr *ledgerRun) truncationFound(t *testing.T) {
	t.Helper()
	s, signed := lr.s, lr.signed
	pgtest.Tamper(t, s.ownerURL, `DELETE FROM ledger_events WHERE position >= `+strconv.FormatInt(signed, 10))
	a := ledgerState(t, s, s.newLedger())
	if v := a.Verification; a.Head.Position != signed-1 || v.OK || v.BrokenAt != signed || v.Reason == nil || !strings.HasPrefix(*v.Reason, "truncated") {
		t.Fatalf("after a truncation before the checkpoint at %d: head %d, %+v", signed, a.Head.Position, v)
	}
}
