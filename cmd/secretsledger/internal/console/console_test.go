package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// fixture is the console over a real database (sessions, board tokens) and a stand-in
// API that answers every call with an empty page and remembers what it was asked.
type fixture struct {
	srv    *httptest.Server
	owner  *pgxpool.Pool
	pool   *pgxpool.Pool // the runtime role's
	tokens boardtoken.Store
	key    integrity.Key
	mu     sync.Mutex
	calls  []string
	// answer, when set, answers the calls it returns true for.
	answer func(w http.ResponseWriter, r *http.Request) bool
}

func newFixture(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	owner, ownerURL := pgtest.NewMigratedPool(t)
	pool := pgtest.NewPool(t, pgtest.RuntimeURL(t, ownerURL))
	key, err := integrity.FromSecret(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{owner: owner, pool: pool, tokens: boardtoken.Store{DB: owner, Key: key}, key: key}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f.answer != nil && f.answer(w, r) {
			return
		}
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/secrets"):
			_, _ = io.WriteString(w, `{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}`)
		default:
			_, _ = io.WriteString(w, `{"items": [], "nextCursor": null}`)
		}
	})
	handler := New(Config{Log: slog.New(slog.DiscardHandler), DB: pool, Auth: boardtoken.Store{DB: pool, Key: key}, Key: key,
		SessionTTL: ttl})(api)
	f.srv = httptest.NewServer(handler)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "GET ") {
			n++
		}
	}
	return n
}

// browser is a client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) signIn(t *testing.T, c *http.Client, token string) *http.Response {
	t.Helper()
	res, err := c.PostForm(f.srv.URL+"/console/sign-in", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

const company = "aaaaaaaa-0000-4000-8000-000000000001"

func TestSignInSessionAndCSRF(t *testing.T) {
	f := newFixture(t, time.Hour)
	tokenID, token, err := f.tokens.Create(context.Background(), nil, "console test")
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)

	cookie := signInSetsASessionCookie(t, f, c, token)
	// Behind a TLS-terminating proxy that says so, the cookie is Secure.
	secureCookieBehindATLSProxy(t, f, token)
	var stored int
	if err := f.owner.QueryRow(context.Background(), `SELECT count(*) FROM console_sessions WHERE token_id = $1 AND id_hash = $2`,
		tokenID, f.key.CredentialHash(cookie.Value)).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("the session row: %d %v", stored, err)
	}

	csrf := secretsPageCarriesACSRFField(t, f, c, token)
	form := postsNeedTheCSRFFieldAndOrigin(t, f, c, csrf)

	// Revoking the token ends the session at once.
	if err := f.tokens.Revoke(context.Background(), tokenID); err != nil {
		t.Fatal(err)
	}
	status, _, header := get(t, c, f.srv.URL+"/console/companies/"+company+"/secrets")
	if status != http.StatusSeeOther || !strings.HasPrefix(header.Get("Location"), "/console/") {
		t.Fatalf("after revocation: %d %s", status, header.Get("Location"))
	}
	if code := postSecretForm(t, f, c, form, nil); code != 401 {
		t.Fatalf("a post after revocation: %d, want 401", code)
	}
	if n := f.writes(); n != 1 {
		t.Fatalf("a post after revocation reached the API")
	}
}

// signInSetsASessionCookie signs c in with token after a wrong token is refused, and
// returns the session cookie.
func signInSetsASessionCookie(t *testing.T, f *fixture, c *http.Client, token string) *http.Cookie {
	t.Helper()
	if res := f.signIn(t, c, "slb_not-a-token"); res.StatusCode != 401 || len(res.Cookies()) != 0 {
		t.Fatalf("a wrong token: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	res := f.signIn(t, c, token)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	var cookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == cookieName {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/console/" {
		t.Fatalf("session cookie %+v", cookie)
	}
	if strings.Contains(cookie.Value, token) {
		t.Fatal("the cookie holds the board token")
	}
	if cookie.Secure {
		t.Fatal("a session over plain HTTP got a Secure cookie")
	}
	return cookie
}

func secureCookieBehindATLSProxy(t *testing.T, f *fixture, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/console/sign-in", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	proxied, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = proxied.Body.Close()
	if cs := proxied.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("behind a TLS proxy: cookies %+v", cs)
	}
}

// secretsPageCarriesACSRFField checks the signed-in secrets page and returns its csrf value.
func secretsPageCarriesACSRFField(t *testing.T, f *fixture, c *http.Client, token string) string {
	t.Helper()
	status, body, header := get(t, c, f.srv.URL+"/console/companies/"+company+"/secrets")
	if status != 200 {
		t.Fatalf("secrets page: %d", status)
	}
	if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
	if strings.Contains(body, token) {
		t.Fatal("a page shows the board token")
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no csrf field on the secrets page")
	}
	return m[1]
}

// postSecretForm posts form to the secrets page as c, with header added, and returns the status.
func postSecretForm(t *testing.T, f *fixture, c *http.Client, form url.Values, header http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/console/companies/"+company+"/secrets", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// postsNeedTheCSRFFieldAndOrigin refuses posts without the right csrf or from another
// site, takes a good one and refuses an oversized one; it returns the good form.
func postsNeedTheCSRFFieldAndOrigin(t *testing.T, f *fixture, c *http.Client, csrf string) url.Values {
	t.Helper()
	wrong := "A" + csrf[1:] // one character off
	if wrong == csrf {
		wrong = "B" + csrf[1:]
	}
	create := url.Values{"name": {"x"}, "value": {"v"}}
	for name, tc := range map[string]struct {
		csrf   string
		header http.Header
	}{
		"no csrf":        {"", nil},
		"wrong csrf":     {wrong, nil},
		"foreign origin": {csrf, http.Header{"Origin": {"https://evil.example"}}},
		"cross-site":     {csrf, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	} {
		form := url.Values{"name": create["name"], "value": create["value"]}
		if tc.csrf != "" {
			form.Set("csrf", tc.csrf)
		}
		if code := postSecretForm(t, f, c, form, tc.header); code != 403 {
			t.Fatalf("%s: %d, want 403", name, code)
		}
	}
	if n := f.writes(); n != 0 {
		t.Fatalf("refused posts reached the API %d times", n)
	}
	form := url.Values{"name": {"x"}, "value": {"v"}, "csrf": {csrf}}
	if code := postSecretForm(t, f, c, form, http.Header{"Origin": {f.srv.URL}}); code != http.StatusSeeOther {
		t.Fatalf("a good post: %d", code)
	}
	if n := f.writes(); n != 1 {
		t.Fatalf("a good post reached the API %d times", n)
	}
	tooLarge := url.Values{"name": {"x"}, "value": {strings.Repeat("v", maxFormBytes)}, "csrf": {csrf}}
	if code := postSecretForm(t, f, c, tooLarge, nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("an oversized form: %d", code)
	}
	return form
}

func TestSignOutEndsTheSessionEverywhere(t *testing.T) {
	f := newFixture(t, time.Hour)
	_, token, err := f.tokens.Create(context.Background(), nil, "console test")
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	f.signIn(t, c, token)
	_, body, _ := get(t, c, f.srv.URL+"/console/companies/"+company+"/secrets")
	csrf := csrfField.FindStringSubmatch(body)[1]
	u, _ := url.Parse(f.srv.URL + "/console/")
	stolen := c.Jar.Cookies(u)
	res, err := c.PostForm(f.srv.URL+"/console/sign-out", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	// A copy of the cookie taken before signing out is worth nothing after it.
	other := browser(t)
	other.Jar.SetCookies(u, stolen)
	if status, _, _ := get(t, other, f.srv.URL+"/console/companies/"+company+"/secrets"); status != http.StatusSeeOther {
		t.Fatalf("the old cookie after sign-out: %d", status)
	}
}

func TestSessionsExpireAndAreBoundedPerToken(t *testing.T) {
	f := newFixture(t, time.Hour)
	ctx := context.Background()
	tokenID, _, err := f.tokens.Create(ctx, nil, "console test")
	if err != nil {
		t.Fatal(err)
	}
	s := sessions{db: f.owner, key: f.key, ttl: time.Hour}
	first, err := s.start(ctx, tokenID)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := s.actor(ctx, first); err != nil || a.ID != tokenID {
		t.Fatalf("a new session: %+v %v", a, err)
	}
	if _, err := f.owner.Exec(ctx, `UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = $1`, s.hashOf(first)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.actor(ctx, first); err != errNoSession {
		t.Fatalf("an expired session: %v", err)
	}
	ids := []string{}
	for range sessionsPerToken + 5 {
		id, err := s.start(ctx, tokenID)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var n int
	if err := f.owner.QueryRow(ctx, `SELECT count(*) FROM console_sessions WHERE token_id = $1`, tokenID).Scan(&n); err != nil || n != sessionsPerToken {
		t.Fatalf("%d sessions kept (%v), want %d (the expired one swept)", n, err, sessionsPerToken)
	}
	if _, err := s.actor(ctx, ids[len(ids)-1]); err != nil {
		t.Fatalf("the newest session: %v", err)
	}
	if _, err := s.actor(ctx, ids[0]); err != errNoSession {
		t.Fatalf("the oldest session beyond the bound: %v", err)
	}
}

func TestPagesWithoutASessionGoToSignIn(t *testing.T) {
	f := newFixture(t, time.Hour)
	c := browser(t)
	for _, path := range []string{"/console/companies/" + company + "/secrets", "/console/ledger", "/console/secrets/01ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if status, _, header := get(t, c, f.srv.URL+path); status != http.StatusSeeOther || !strings.HasPrefix(header.Get("Location"), "/console/") {
			t.Fatalf("%s: %d %s", path, status, header.Get("Location"))
		}
	}
	status, body, _ := get(t, c, f.srv.URL+"/console/")
	if status != 200 || !strings.Contains(body, `name="token"`) || !strings.Contains(body, `type="password"`) {
		t.Fatalf("sign-in page: %d", status)
	}
	if status, _, _ := get(t, c, f.srv.URL+"/console/static/console.css"); status != 200 {
		t.Fatalf("style sheet: %d", status)
	}
	if f.writes() != 0 || len(f.calls) != 0 {
		t.Fatalf("the API was called without a session: %v", f.calls)
	}
}

// The runtime role adds sessions (signing in), so it could add one of its own for a
// live token: keyed hashes make such a row match no cookie.
func TestASessionWrittenByTheRuntimeRoleSignsNoOneIn(t *testing.T) {
	f := newFixture(t, time.Hour)
	ctx := context.Background()
	tokenID, _, err := f.tokens.Create(ctx, nil, "console test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `INSERT INTO console_sessions (id_hash, token_id, expires_at)
		VALUES (sha256('forged-session'), $1, now() + interval '1 hour')`, tokenID); err != nil {
		t.Fatalf("insert a session as the runtime role: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/console/companies/"+company+"/secrets", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: "forged-session"})
	res, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/?signin") {
		t.Fatalf("a forged session: %d to %q, want 303 to the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
	f.mu.Lock()
	calls := len(f.calls)
	f.mu.Unlock()
	if calls != 0 {
		t.Fatalf("the API was called %d times", calls)
	}

	// Nor can it move a session it holds (say, of a token limited to one company) to
	// another token: the session ends instead.
	limitedID, limited, err := f.tokens.Create(ctx, []string{company}, "limited")
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	if res := f.signIn(t, c, limited); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	page := f.srv.URL + "/console/companies/" + company + "/secrets"
	if status, _, _ := get(t, c, page); status != http.StatusOK {
		t.Fatalf("the limited token's session: %d", status)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE console_sessions SET token_id = $1 WHERE token_id = $2`, tokenID, limitedID); err != nil {
		t.Fatalf("move the session as the runtime role: %v", err)
	}
	if status, _, header := get(t, c, page); status != http.StatusSeeOther || !strings.HasPrefix(header.Get("Location"), "/console/?signin") {
		t.Fatalf("a session moved to another token: %d to %q, want 303 to the sign-in page", status, header.Get("Location"))
	}
	// Nor make a session outlive its expiry.
	c = browser(t)
	if res := f.signIn(t, c, limited); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE console_sessions SET expires_at = expires_at + interval '1 year' WHERE token_id = $1`, limitedID); err != nil {
		t.Fatalf("extend the session as the runtime role: %v", err)
	}
	if status, _, _ := get(t, c, page); status != http.StatusSeeOther {
		t.Fatalf("a session whose expiry was moved: %d, want 303 to the sign-in page", status)
	}
}

// A token limited to companies gets 403 from GET /api/ledger: the console shows that
// refusal (not a 500) and does not link the ledger page for such a session.
func TestLedgerPageForACompanyToken(t *testing.T) {
	f := newFixture(t, time.Hour)
	f.answer = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/ledger" {
			return false
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error": "the ledger's state is shown to instance-wide board tokens only", "details": {"code": "EFORBIDDEN"}}`)
		return true
	}
	_, token, err := f.tokens.Create(context.Background(), []string{company}, "company console")
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	if res := f.signIn(t, c, token); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	code, body, _ := get(t, c, f.srv.URL+"/console/ledger")
	if code != http.StatusForbidden || !strings.Contains(body, "instance-wide board tokens only") || !strings.Contains(body, "EFORBIDDEN") {
		t.Fatalf("ledger page for a company token: %d %s", code, body)
	}
	if strings.Contains(body, `href="/console/ledger"`) {
		t.Fatal("the console links the ledger page for a company token")
	}
	_, instance, err := f.tokens.Create(context.Background(), nil, "instance console")
	if err != nil {
		t.Fatal(err)
	}
	c = browser(t)
	f.signIn(t, c, instance)
	if _, body, _ := get(t, c, f.srv.URL+"/console/"); !strings.Contains(body, `href="/console/ledger"`) {
		t.Fatal("the console does not link the ledger page for an instance token")
	}
}
