package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/directory"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi/openapitest"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
	"github.com/secretsledger/secretsledger/queries"
	"github.com/secretsledger/secretsledger/queries/audit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	companyA = "aaaaaaaa-0000-4000-8000-000000000001"
	companyB = "bbbbbbbb-0000-4000-8000-000000000002"
)

// testKey is the integrity key of the stack's instance.
var testKey = func() integrity.Key {
	k, err := integrity.FromSecret(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// stack is the whole API over a real PostgreSQL: the router, the commands, queries and
// read models it uses, and credentials of every kind.
type stack struct {
	t        testing.TB
	router   http.Handler
	store    *eventstore.Store
	pool     *pgxpool.Pool
	ownerURL string // the owner's database URL, for tests that tamper as an attacker would
	commands *commands.Handlers
	tokens   boardtoken.Store
	// health is the vault health check the commands use; a test may replace it.
	health *switchableHealth
	// api is the router's API part, for tests that change it (then route again) or build
	// a router of their own.
	api *API
	// board may do anything; boardB sees company B only; revoked was revoked.
	board, boardB, revoked string
	agent                  string // an agent key of agent/x in company A
	// vault is the fixtures' provider vault, made again once it was disabled (a company
	// has at most commands.MaxVaultsPerCompany).
	vault string
}

// fakeSubscribers stands in for NATS: the routes' admission is what is tested here
// (natsbus tests the credentials against a real server).
type fakeSubscribers struct{}

var errCompanyNotFound = ledgererr.New(ledgererr.NotFound, "company not found")

func (fakeSubscribers) Issue(_ context.Context, req commands.Request, companyID, _ string) (natsbus.SubscriberCredentials, error) {
	if !req.Actor.CanAccess(companyID) {
		return natsbus.SubscriberCredentials{}, errCompanyNotFound
	}
	return natsbus.SubscriberCredentials{CompanyID: companyID}, nil
}

func (fakeSubscribers) Revoke(_ context.Context, req commands.Request, companyID, _ string) error {
	if !req.Actor.CanAccess(companyID) {
		return errCompanyNotFound
	}
	return nil
}

// switchableHealth is the stack's vault health check: commands.DefaultVaultHealth
// until a test sets another.
type switchableHealth struct {
	mu sync.Mutex
	h  commands.VaultHealth
}

func (s *switchableHealth) set(h commands.VaultHealth) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *switchableHealth) Check(ctx context.Context, v commands.Vault) (string, string, map[string]any) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	if h == nil {
		h = commands.DefaultVaultHealth{}
	}
	return h.Check(ctx, v)
}

type stackAuth struct {
	tokens boardtoken.Store
	keys   *commands.AgentKeys
}

func (a stackAuth) Authenticate(ctx context.Context, token string) (actor.Actor, error) {
	if strings.HasPrefix(token, commands.AgentTokenPrefix) {
		return a.keys.AuthenticateAgent(ctx, token)
	}
	return a.tokens.Authenticate(ctx, token)
}

func newStack(t testing.TB) *stack {
	t.Helper()
	// The server's own role: what it may not do, the API may not make it do.
	owner, ownerURL := pgtest.NewMigratedPool(t)
	pool := pgtest.NewPool(t, pgtest.RuntimeURL(t, ownerURL))
	key, _, err := localenc.LoadMasterKey(func(string) string { return strings.Repeat("cd", 32) }, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	local, err := localenc.NewProvider(pool, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Projector: projections.Inline(projections.All())})
	secretQueries := queries.Secrets{DB: pool}
	consumers := queries.Consumers{DB: pool, Secrets: secretQueries, Values: local}
	health := &switchableHealth{}
	cmds := commands.New(commands.Config{Log: store, Providers: map[string]providers.Provider{providers.LocalEncrypted: local},
		DefaultProvider: providers.LocalEncrypted, RecoveryWindow: 24 * time.Hour, Directory: directory.Directory{Consumers: consumers},
		Credentials: testKey, VaultLocator: queries.Vaults{DB: pool}, VaultHealth: health,
		Readback: func(id string, got func(any)) eventstore.Statement {
			return secretQueries.Readback(id, func(s queries.Secret) { got(s) })
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = store.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	// Tokens are made and revoked by operator commands, which run as the owner.
	s := &stack{t: t, store: store, pool: pool, ownerURL: ownerURL, commands: cmds, tokens: boardtoken.Store{DB: owner, Key: testKey},
		health: health}
	redactionKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	s.api = &API{
		Auth:         stackAuth{tokens: boardtoken.Store{DB: pool, Key: testKey}, keys: cmds.AgentKeys},
		RequestHash:  local.Sealer().RequestHash,
		Answers:      store,
		AnswerSeal:   testKey,
		Secrets:      Secrets{Commands: cmds.Secrets, Queries: secretQueries},
		RemoteImport: RemoteImport{Commands: cmds.Importer},
		Providers:    Providers{Instances: []providers.Provider{local}},
		Consumers:    Consumers{Commands: cmds.Consumers, Queries: consumers},
		AccessEvents: AccessEvents{Queries: consumers},
		AgentKeys:    AgentKeys{Commands: cmds.AgentKeys, Queries: consumers},
		Resolution:   Resolution{Commands: cmds.Resolver},
		Changes:      Changes{Queries: queries.Changes{Store: store, DB: pool}},
		Incidents:    Incidents{Commands: cmds.Incidents, Queries: queries.Freezes{DB: pool}},
		LeakScans:    LeakScans{Commands: cmds.LeakScans},
		Vaults:       Vaults{Commands: cmds.Vaults, Queries: queries.Vaults{DB: pool}},
		Policies:     Policies{Commands: cmds.Policies, Queries: queries.ExternalPolicies{DB: pool}},
		Events:       Events{Subscribers: fakeSubscribers{}, Reader: queries.Events{DB: pool}, Sealed: store.SealedThrough},
		Audit:        Audit{Queries: audit.Log{DB: pool, RedactionKey: redactionKey}, Sealed: store.SealedThrough},
		Ledger:       Ledger{Companies: queries.Companies{DB: pool}, Status: &queries.Ledger{Store: store, DB: pool}},
	}
	s.route()
	_, s.board = s.newToken(nil)
	_, s.boardB = s.newToken([]string{companyB})
	var revokedID string
	revokedID, s.revoked = s.newToken(nil)
	if err := s.tokens.Revoke(ctx, revokedID); err != nil {
		t.Fatal(err)
	}
	s.agent = s.newAgentKey("x")
	return s
}

// route builds the router from s.api (again, after a test changed it).
func (s *stack) route() {
	s.router = NewRouter(Deps{Log: slog.New(slog.DiscardHandler), API: s.api,
		Roles: func() []string { return []string{"relay", "idempotency-sweep"} }})
}

func (s *stack) newToken(companies []string) (id, token string) {
	id, token, err := s.tokens.Create(context.Background(), companies, "test")
	if err != nil {
		s.t.Fatal(err)
	}
	return id, token
}

var boardReq = commands.Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}

func (s *stack) newAgentKey(targetID string) string {
	res, err := s.commands.AgentKeys.IssueKey(context.Background(), boardReq, commands.IssueAgentKey{
		Consumer: commands.Consumer{CompanyID: companyA, TargetType: "agent", TargetID: targetID}})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Token
}

// fixtures makes a secret, a binding of it at env.API_KEY of agent/x, an agent key to
// revoke and (unless the last one is still usable) a local_encrypted provider vault,
// and returns their ids by the path segment that names them.
func (s *stack) fixtures() map[string]string {
	ctx := context.Background()
	v := providers.NewValue([]byte("fixture-value"))
	sec, err := s.commands.Secrets.Create(ctx, boardReq, commands.CreateSecret{CompanyID: companyA,
		Name: "fixture " + time.Now().Format("150405.000000000"), Value: &v})
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := s.commands.Consumers.Bind(ctx, boardReq, commands.CreateBinding{Consumer: commands.Consumer{CompanyID: companyA,
		TargetType: "agent", TargetID: "x"}, SecretID: sec.SecretID, ConfigPath: "path_" + strings.ToLower(sec.SecretID)})
	if err != nil {
		s.t.Fatal(err)
	}
	key, err := s.commands.AgentKeys.IssueKey(ctx, boardReq, commands.IssueAgentKey{
		Consumer: commands.Consumer{CompanyID: companyA, TargetType: "agent", TargetID: "y"}})
	if err != nil {
		s.t.Fatal(err)
	}
	var status string
	if s.vault != "" {
		if err := s.pool.QueryRow(ctx, `SELECT status FROM company_secret_provider_configs WHERE id = $1`, s.vault).Scan(&status); err != nil {
			s.t.Fatal(err)
		}
	}
	if s.vault == "" || status == commands.VaultDisabled {
		vault, err := s.api.Vaults.Commands.CreateVault(ctx, boardReq, commands.CreateVault{CompanyID: companyA,
			DisplayName: "fixture", Provider: providers.LocalEncrypted})
		if err != nil {
			s.t.Fatal(err)
		}
		s.vault = vault.VaultID
	}
	return map[string]string{"secrets": sec.SecretID, "secret-bindings": b.BindingID, "agent-keys": key.KeyID,
		"event-subscribers": strings.ToLower(sec.SecretID), "secret-provider-configs": s.vault}
}

// head is the position of the last event committed to the log, sealed or not: what a
// request appended shows in it as soon as the request is answered.
func (s *stack) head() int64 {
	var pos int64
	if err := s.pool.QueryRow(context.Background(), `SELECT coalesce(max(position), 0) FROM ledger_log`).Scan(&pos); err != nil {
		s.t.Fatal(err)
	}
	return pos
}

// appendedSince counts the events committed after position before (positions need not
// be dense: an append that failed after taking its positions leaves a hole).
func (s *stack) appendedSince(before int64) int64 {
	var n int64
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_log WHERE position > $1`, before).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// sealedHead waits until the sealer chained every event committed before the call and
// returns the sealed head: for what reads the sealed log (the chain, checkpoints, the
// change feed).
func (s *stack) sealedHead() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pos, err := s.store.SealedThrough(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return pos
}

// in returns the stack reporting to t: a fuzz target reports through its own *testing.T,
// not the *testing.F that built the stack.
func (s *stack) in(t testing.TB) *stack {
	c := *s
	c.t = t
	return &c
}

// do sends one request to the router and returns the answer, which must match the
// OpenAPI document (and so must the request, when it was accepted).
func (s *stack) do(req *http.Request, token string) *httptest.ResponseRecorder {
	s.t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			s.t.Fatal(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	sent := openapitest.Exchange{Method: req.Method, URL: cloneURL(req.URL), Header: req.Header.Clone(), Body: body}
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	checkExchange(s.t, sent, rec)
	return rec
}

func newRequest(method, path string, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "/", rd)
	req.URL.Path = path // set after parsing, so that any bytes reach the router
	return req
}
