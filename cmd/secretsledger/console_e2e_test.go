package main

// End-to-end tests of the browser console at /console/: one drives it in a headless
// Chromium as an operator would, one walks every page with a plain HTTP client and
// checks that nothing secret ever leaves it and that no form post is accepted without
// a live session, the session's CSRF token and a same-origin request.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// consoleScreenshots is where TestConsoleInChromium writes the screenshot the docs show
// (console-secrets.png); empty: nowhere but the test's own temporary directory.
var consoleScreenshots = flag.String("console.screenshots", "", "directory to write docs/console-secrets.png into (TestConsoleInChromium)")

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

// headOf is the position of the newest event in the log.
func headOf(t *testing.T, db *pgx.Conn) int64 {
	t.Helper()
	var head int64
	if err := db.QueryRow(context.Background(), `SELECT coalesce(max(position), 0) FROM ledger_events`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	return head
}

// pollUntil calls check until it returns "" (done) or the deadline passes; the last
// answer is the failure message.
func pollUntil(t *testing.T, limit time.Duration, check func() string) {
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

// ---------------------------------------------------------------------------------
// In Chromium.

// browserProblems collects what the browser reports as wrong on a page: console errors
// and warnings, uncaught exceptions, CSP violations, loads it blocked.
type browserProblems struct {
	mu   sync.Mutex
	seen []string
}

func (p *browserProblems) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, s)
}

// take returns and forgets what was collected.
func (p *browserProblems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.seen
	p.seen = nil
	return s
}

func (p *browserProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning || ev.Entry.Source == cdplog.EntrySourceSecurity {
			p.add(fmt.Sprintf("log %s/%s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		}
	case *runtime.EventExceptionThrown:
		p.add("exception: " + ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			p.add("console." + string(ev.Type))
		}
	case *network.EventLoadingFailed:
		if ev.BlockedReason != "" {
			p.add(fmt.Sprintf("blocked load (%s): %s", ev.BlockedReason, ev.ErrorText))
		}
	}
}

// chromium is one headless browser tab on a test instance.
type chromium struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shots    string
	problems *browserProblems
}

func newChromium(t *testing.T, base string) *chromium {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console's browser test needs Debian's chromium (apt-get install chromium; .ci/run installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, // CI runs as root
		chromedp.Headless, chromedp.WindowSize(1280, 800), chromedp.DisableGPU)
	problems := &browserProblems{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	// The first Do starts the browser for the life of tab; the time limit is on what follows.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(tab, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return &chromium{t: t, ctx: ctx, base: base, shots: t.TempDir(), problems: problems}
}

// run runs actions; an error fails the test.
func (b *chromium) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// value runs an action that returns a value; an error fails the test.
func value[T any](b *chromium, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, action)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// load runs actions that end in a navigation (a link, a form post) and returns the
// final page's status and URL, after every redirect.
func (b *chromium) load(what string, actions ...chromedp.Action[chromedp.Void]) (int64, *url.URL) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if resp == nil {
		b.t.Fatalf("%s: no navigation", what)
	}
	u, err := url.Parse(resp.URL)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.Status, u
}

// page opens a console page and wants a 200 answer.
func (b *chromium) page(path string) *url.URL {
	b.t.Helper()
	status, u := b.load("open "+path, chromedp.Navigate(b.base+path))
	if status != http.StatusOK {
		b.t.Fatalf("%s: %d, want 200 (%s)", path, status, b.text("main"))
	}
	return u
}

// submit clicks a form's button and wants the page it leads to (200) showing notice.
func (b *chromium) submit(button, notice string) *url.URL {
	b.t.Helper()
	status, u := b.load("submit "+button, chromedp.Click(chromedp.CSS(button)))
	if status != http.StatusOK {
		b.t.Fatalf("submit %s: %d, want 200 (%s)", button, status, b.text("main"))
	}
	if got := b.text(".notice"); got != notice {
		b.t.Fatalf("submit %s: notice %q, want %q (%s)", button, got, notice, b.text("main"))
	}
	return u
}

// text is the text of the first element sel matches ("" when none does).
func (b *chromium) text(sel string) string {
	b.t.Helper()
	nodes := value(b, "read "+sel, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).slice(0, 1).map(e => e.innerText.trim())`, sel)))
	if len(nodes) == 0 {
		return ""
	}
	return nodes[0]
}

// fill types text into a field, as a user types.
func (b *chromium) fill(sel, text string) {
	b.t.Helper()
	b.run("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose picks a select's option.
func (b *chromium) choose(sel, option string) {
	b.t.Helper()
	b.run("choose "+option+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), option))
}

// screenshot keeps a full-page PNG of the page and returns it.
func (b *chromium) screenshot(name string) []byte {
	b.t.Helper()
	img := value(b, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG
	if _, err := png.DecodeConfig(bytes.NewReader(img)); err != nil {
		b.t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), img, 0o600); err != nil {
		b.t.Fatal(err)
	}
	return img
}

// clean fails the test when the browser reported a problem on the pages since the last
// call: the CSP blocks nothing the console itself uses, so any violation is a bug.
func (b *chromium) clean(where string) {
	b.t.Helper()
	if p := b.problems.take(); len(p) > 0 {
		b.t.Errorf("%s: the browser reported:\n%s", where, strings.Join(p, "\n"))
	}
}

// An operator's afternoon in the console, in a real browser: sign in, create, rotate,
// bind, issue an agent key that then resolves the value over the API, find the read in
// the access history, delete and restore, create a vault and make it the default; the
// layout on a phone, a page without JavaScript, and no CSP violation anywhere.
func TestConsoleInChromium(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s, 15*time.Second)
	api := e.client(t, e.instanceToken(t))
	db := e.ownerDB(t)
	b := newChromium(t, "http://"+e.addr)
	company := "/console/companies/" + companyA
	v1, v2 := canary("console-v1"), canary("console-v2")

	// Sign in. The form is the page of a browser without a session.
	b.page("/console/")
	if b.text("h1") != "Sign in" {
		t.Fatalf("/console/ without a session: %q", b.text("main"))
	}
	b.screenshot("sign-in")
	b.clean("sign-in form")
	b.fill("#token", e.instanceToken(t))
	_, landed := b.load("sign in", chromedp.Click(chromedp.CSS(`form[action="/console/sign-in"] button`)))
	if landed.Path != "/console/" || b.text("form.signout .who") == "" {
		t.Fatalf("after sign-in: %s, %q", landed, b.text("body"))
	}
	got, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	cookies := got.Cookies
	if len(cookies) != 1 || cookies[0].Name != "ledger_console" || !cookies[0].HTTPOnly || cookies[0].SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie: %+v", cookies)
	}
	b.clean("the landing page")

	// Open the company by id and create a secret, its value typed into the password field.
	if u := b.page("/console/open?company=" + companyA); u.Path != company+"/secrets" {
		t.Fatalf("open company: at %s", u)
	}
	b.screenshot("secrets-empty")
	b.clean("secrets list")
	b.fill(`form.card #name`, "Payments API key")
	b.fill(`form.card #description`, "charges customers")
	b.fill(`form.card #value`, v1)
	if typ, _ := b.attr(`form.card #value`, "type"); typ != "password" {
		t.Fatalf("the value field is a %q field", typ)
	}
	u := b.submit(`form.card[action$="/secrets"] button[type=submit]`, "Secret created.")
	sid := strings.TrimPrefix(u.Path, "/console/secrets/")
	if !strings.HasPrefix(u.Path, "/console/secrets/") || b.text("dl.facts code") != sid {
		t.Fatalf("after create: at %s, showing %q", u, b.text("dl.facts"))
	}
	if got := api.must(200, "GET", "/api/secrets/"+sid, "").json(t); got["name"] != "Payments API key" || got["latestVersion"] != float64(1) {
		t.Fatalf("the API's secret: %v", got)
	}
	b.screenshot("secret-created")
	b.clean("secret page")

	// Rotate it.
	b.fill(`form[action$="/rotate"] #value`, v2)
	b.submit(`form[action$="/rotate"] button`, "Secret rotated.")
	if facts := b.text("dl.facts"); !regexp.MustCompile(`Latest version\s+2\s`).MatchString(facts) {
		t.Fatalf("after rotation: %q", facts)
	}
	b.clean("rotated secret")

	// Bind it to an agent, from the consumers page.
	b.page(company + "/consumers")
	b.screenshot("consumers")
	b.clean("consumers")
	b.choose("#bind-targetType", "agent")
	b.fill("#bind-targetId", "agent-console")
	b.choose("#secretId", sid)
	b.fill("#configPath", "env.API_KEY")
	u = b.submit(`form[action$="/bindings"] button`, "Binding created.")
	if u.Path != company+"/consumers/agent/agent-console" || !strings.Contains(b.text("main"), "env.API_KEY") {
		t.Fatalf("after binding: at %s: %q", u, b.text("main"))
	}
	b.screenshot("consumer")
	b.clean("consumer")

	// Issue an agent key: shown once, with a copy button the script reveals.
	b.fill(`form[action$="/agent-keys"] #label`, "from the console")
	status, _ := b.load("issue a key", chromedp.Click(chromedp.CSS(`form[action$="/agent-keys"] button`)))
	key := value(b, "read the key", chromedp.Value(chromedp.ID("agent-key")))
	if status != http.StatusOK || key == "" {
		t.Fatalf("issue a key: %d, key %d chars: %q", status, len(key), b.text("main"))
	}
	if _, hidden := b.attr("button[data-copy]", "hidden"); hidden {
		t.Fatal("the copy button stayed hidden: console.js did not run")
	}
	b.screenshot("agent-key") // stays in the test's temporary directory
	b.clean("agent key")

	// The agent resolves the rotated value over the API with that key.
	agent := e.client(t, key)
	var resolved struct{ Env map[string]string }
	if err := json.Unmarshal(agent.must(200, "POST", "/api/runtime/resolve", `{"runId": "console-run"}`).body, &resolved); err != nil {
		t.Fatal(err)
	}
	if resolved.Env["API_KEY"] != v2 {
		t.Fatal("the console-issued key did not resolve the rotated value")
	}

	// The read shows in the access history, and on the secret's exposure timeline.
	pollUntil(t, 15*time.Second, func() string {
		b.page(company + "/access?secret=" + sid)
		if rows := b.text("table.access tbody"); !strings.Contains(rows, "resolved") || !strings.Contains(rows, "agent/agent-console") ||
			!strings.Contains(rows, "console-run") {
			return "access history: " + rows
		}
		return ""
	})
	b.screenshot("access")
	b.clean("access history")
	pollUntil(t, 15*time.Second, func() string {
		b.page("/console/secrets/" + sid + "/exposure")
		if tl := b.text("ol.timeline"); !strings.Contains(tl, "read by agent/agent-console") {
			return "exposure: " + tl
		}
		return ""
	})
	b.screenshot("exposure")
	b.clean("exposure")

	// Delete and restore.
	b.page("/console/secrets/" + sid)
	b.submit(`form[action$="/delete"] button`, "Secret deleted; it can be restored within the recovery window.")
	if st := b.text("dl.facts .status"); st != "deleted" || b.text(`form[action$="/restore"]`) == "" {
		t.Fatalf("after delete: status %q, %q", st, b.text("main"))
	}
	b.screenshot("secret-deleted")
	b.submit(`form[action$="/restore"] button`, "Secret restored.")
	if st := b.text("dl.facts .status"); st != "active" {
		t.Fatalf("after restore: status %q", st)
	}
	b.clean("delete and restore")

	// A vault, made the default.
	b.page(company + "/vaults")
	b.fill("#displayName", "Local vault")
	b.choose("#vprovider", "local_encrypted")
	b.submit(`form.card[action$="/vaults"] button`, "Vault created.")
	if rows := b.text("main table tbody"); !strings.Contains(rows, "Local vault") || !strings.Contains(rows, "ready") {
		t.Fatalf("vaults: %q", rows)
	}
	b.submit(`form[action$="/default"] button`, "Vault set as the default.")
	if row := b.text("main table tbody tr"); !strings.Contains(row, "default") || b.text(`form[action$="/default"]`) != "" {
		t.Fatalf("after set default: %q", row)
	}
	vaults := api.must(200, "GET", "/api/companies/"+companyA+"/secret-provider-configs", "").list(t)
	if len(vaults) != 1 || vaults[0]["isDefault"] != true {
		t.Fatalf("the API's vaults: %v", vaults)
	}
	b.screenshot("vaults")
	b.clean("vaults")

	// The secrets list as the docs show it, at 1280×800.
	for _, name := range []string{"GitHub deploy token", "Postgres password", "Webhook signing secret"} {
		api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "`+name+`", "value": "`+canary("docs")+`"}`)
	}
	b.page(company + "/secrets")
	b.screenshot("secrets")
	docShot := value(b, "screenshot the viewport", chromedp.CaptureScreenshot())
	if cfg, err := png.DecodeConfig(bytes.NewReader(docShot)); err != nil || cfg.Width != 1280 || cfg.Height != 800 {
		t.Fatalf("docs screenshot: %v %+v", err, cfg)
	}
	if *consoleScreenshots != "" {
		if err := os.WriteFile(filepath.Join(*consoleScreenshots, "console-secrets.png"), docShot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.clean("secrets list")

	// On a phone: the page itself never scrolls sideways (wide tables scroll in their box).
	b.run("narrow window", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{company + "/secrets", "/console/secrets/" + sid, company + "/access"} {
		b.page(path)
		width := value(b, "measure", chromedp.Evaluate[struct{ Scroll, Inner int }](`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`))
		if width.Inner != 390 || width.Scroll > width.Inner {
			// What sticks out, leaving out what is inside a box that scrolls.
			wide := value(b, "find what sticks out", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("main *"))
				.filter(e => !e.closest(".scroll") && e.getBoundingClientRect().right > window.innerWidth)
				.slice(0, 5).map(e => e.tagName + " " + Math.round(e.getBoundingClientRect().right) + "px: " + e.outerHTML.slice(0, 80))`))
			t.Errorf("%s at 390 px: the page is %d px wide in a %d px window: %q", path, width.Scroll, width.Inner, wide)
		}
	}
	b.page(company + "/secrets")
	b.screenshot("secrets-narrow")
	b.run("wide window", chromedp.EmulateViewport(1280, 800))
	b.clean("narrow window")

	// Without JavaScript: pages and forms work; the copy button stays hidden.
	b.scripts(false)
	b.page(company + "/consumers/agent/agent-console")
	main := value(b, "read the page", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(main, "env.API_KEY") || !strings.Contains(main, "from the console") {
		t.Fatalf("consumer page without JavaScript: %q", main)
	}
	status, _ = b.load("issue a key without JavaScript", chromedp.Click(chromedp.CSS(`form[action$="/agent-keys"] button`)))
	second := value(b, "read the key", chromedp.Value(chromedp.ID("agent-key")))
	if _, hidden := b.attr("button[data-copy]", "hidden"); status != http.StatusOK || second == "" || second == key || !hidden {
		t.Fatalf("issue without JavaScript: %d, a new key: %v, copy button hidden: %v", status, second != "" && second != key, hidden)
	}
	b.screenshot("no-javascript")
	b.scripts(true)
	b.clean("without JavaScript")

	// The problem listener sees a CSP violation when there is one: an inline script the
	// policy must refuse.
	b.page(company + "/secrets")
	b.clean("secrets list")
	b.run("inject an inline script", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.createElement("script"); s.textContent = "document.title = 'inline ran'"; document.body.appendChild(s); })()`))
	pollUntil(t, 10*time.Second, func() string {
		b.problems.mu.Lock()
		defer b.problems.mu.Unlock()
		for _, p := range b.problems.seen {
			if strings.Contains(p, "Content Security Policy") {
				return ""
			}
		}
		return fmt.Sprintf("no CSP violation reported for an inline script: %q", b.problems.seen)
	})
	title := value(b, "read the title", chromedp.Title())
	if title == "inline ran" {
		t.Fatal("the inline script ran: the CSP did not hold")
	}
	b.problems.take()

	if head := headOf(t, db); head == 0 {
		t.Fatal("nothing in the log")
	}

	// The companies page (GET /api/companies) and the ledger page (GET /api/ledger).
	t.Run("CompaniesAndLedgerPages", func(t *testing.T) {
		b := *b
		b.t = t
		b.page("/console/")
		if rows := b.text("main table tbody"); !strings.Contains(rows, companyA) {
			t.Fatalf("companies page: %q", rows)
		}
		b.screenshot("companies")
		b.clean("companies")
		before := headOf(t, db)
		b.page("/console/ledger")
		after := headOf(t, db)
		cards := b.text("main")
		if !strings.Contains(cards, "Intact") {
			t.Fatalf("ledger page: %q", cards)
		}
		var shown int64
		if _, err := fmt.Sscanf(b.text("main section.card dd"), "%d", &shown); err != nil || shown < before || shown > after {
			t.Fatalf("ledger page head position %q, the log's head %d..%d", b.text("main section.card dd"), before, after)
		}
		b.screenshot("ledger")
		b.clean("ledger")
	})
}

// attr is an attribute of the first element sel matches, and whether it has it.
func (b *chromium) attr(sel, name string) (string, bool) {
	b.t.Helper()
	a := value(b, "read "+sel+"["+name+"]", chromedp.AttributeValue(chromedp.CSS(sel), name))
	return a.Value, a.Exists
}

// scripts turns the page's JavaScript on or off.
func (b *chromium) scripts(on bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on}); err != nil {
		b.t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------------
// Over plain HTTP.

// consoleAnswer is one answer of the console, kept for the leak scan.
type consoleAnswer struct {
	method, path string
	status       int
	header       http.Header
	body         string
}

// consoleClient is a browser stand-in: a cookie jar, redirects not followed (each is
// looked at), and every answer kept.
type consoleClient struct {
	t    *testing.T
	base string
	jar  *cookiejar.Jar
	hc   *http.Client
	mu   *sync.Mutex
	seen *[]consoleAnswer
}

func newConsoleClient(t *testing.T, base string, seen *[]consoleAnswer, mu *sync.Mutex) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, base: base, jar: jar, mu: mu, seen: seen,
		hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends one request; headers are name, value pairs.
func (c *consoleClient) do(method, path string, form url.Values, headers ...string) consoleAnswer {
	c.t.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := consoleAnswer{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: string(b)}
	c.mu.Lock()
	*c.seen = append(*c.seen, a)
	c.mu.Unlock()
	return a
}

func (c *consoleClient) get(path string) consoleAnswer {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil)
}

// page is get wanting 200.
func (c *consoleClient) page(path string) consoleAnswer {
	c.t.Helper()
	a := c.get(path)
	if a.status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	return a
}

// post posts a form and wants status.
func (c *consoleClient) post(status int, path string, form url.Values, headers ...string) consoleAnswer {
	c.t.Helper()
	a := c.do(http.MethodPost, path, form, headers...)
	if a.status != status {
		c.t.Fatalf("POST %s: %d, want %d: %s", path, a.status, status, a.body)
	}
	return a
}

// signIn signs in with a board token.
func (c *consoleClient) signIn(token string) {
	c.t.Helper()
	a := c.post(http.StatusSeeOther, "/console/sign-in", url.Values{"token": {token}})
	if a.header.Get("Location") != "/console/" {
		c.t.Fatalf("sign-in went to %q", a.header.Get("Location"))
	}
}

// cookie is the session cookie the jar holds.
func (c *consoleClient) cookie() string {
	u, _ := url.Parse(c.base + "/console/")
	for _, k := range c.jar.Cookies(u) {
		if k.Name == "ledger_console" {
			return k.Value
		}
	}
	return ""
}

// withCookie is a client holding a given session cookie, as one who stole it would.
func (c *consoleClient) withCookie(value string) *consoleClient {
	other := newConsoleClient(c.t, c.base, c.seen, c.mu)
	u, _ := url.Parse(c.base + "/console/")
	other.jar.SetCookies(u, []*http.Cookie{{Name: "ledger_console", Value: value, Path: "/console/"}})
	return other
}

// csrf is the CSRF token a page's forms carry.
func (c *consoleClient) csrf() string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(c.page("/console/companies/" + companyA + "/secrets").body)
	if m == nil {
		c.t.Fatal("no csrf field on the secrets page")
	}
	return m[1]
}

// formKeyOf is the idempotency key of a page's form.
func formKeyOf(t *testing.T, page consoleAnswer) string {
	t.Helper()
	m := formKeyField.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("%s: no formKey field", page.path)
	}
	return m[1]
}

// The console never shows a secret value, a token, an agent key (but once, on the page
// that issues it) or stored ciphertext, on any page, error page, redirect or asset; and
// it refuses every state-changing post that lacks the session's CSRF token, comes from
// another origin, or comes after sign-out or the token's revocation, writing nothing.
func TestConsoleLeaksNothing(t *testing.T) {
	t.Parallel()
	fake := awsfake.New(t, "us-east-1")
	awsValue := canary("console-aws")
	fake.Seed(awsfake.Seeded{Name: "team/remote-db-password", Value: awsValue},
		awsfake.Seeded{Name: "paperclip/e2e-dep/" + companyB + "/managed", Value: canary("managed")},
		awsfake.Seeded{Name: "renamed/managed", Value: canary("tagged"), Tags: []awsfake.Tag{{Key: "paperclip:managed-by", Value: "paperclip"}}})
	e := newInstance(t)
	e.vars = []string{
		"PAPERCLIP_SECRETS_AWS_REGION=us-east-1",
		"PAPERCLIP_SECRETS_AWS_DEPLOYMENT_ID=e2e-dep",
		"PAPERCLIP_SECRETS_AWS_KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/e2e",
		"PAPERCLIP_SECRETS_AWS_ENDPOINT=" + fake.URL,
		"AWS_ACCESS_KEY_ID=AKIAE2ETEST", "AWS_SECRET_ACCESS_KEY=e2e-test-secret",
		"AWS_EC2_METADATA_DISABLED=true", "LEDGER_AWS_VAULTS=on",
		"LEDGER_AWS_EXTERNAL_PREFIXES=*", // the console links and imports external references
	}
	s := e.serve(t)
	e.waitReady(t, s, 20*time.Second)
	boardToken := e.instanceToken(t)
	api := e.client(t, boardToken)
	db := e.ownerDB(t)
	base := "http://" + e.addr
	company := "/console/companies/" + companyA
	var (
		mu   sync.Mutex
		seen []consoleAnswer
	)
	c := newConsoleClient(t, base, &seen, &mu)

	// Sign in: a cookie the page's scripts cannot read, sent to the console only.
	if a := c.page("/console/"); !strings.Contains(a.body, `action="/console/sign-in"`) {
		t.Fatalf("/console/ without a session is not the sign-in form: %s", a.body)
	}
	wrongToken := "slb_" + strings.ReplaceAll(canary("not-a-token"), "-", "")
	if a := c.post(http.StatusUnauthorized, "/console/sign-in", url.Values{"token": {wrongToken}}); !strings.Contains(a.body, "not a live board token") {
		t.Fatalf("a wrong token: %s", a.body)
	}
	signedIn := c.post(http.StatusSeeOther, "/console/sign-in", url.Values{"token": {boardToken}})
	setCookie := signedIn.header.Get("Set-Cookie")
	for _, want := range []string{"ledger_console=", "Path=/console/", "HttpOnly", "SameSite=Strict", "Max-Age=28800"} {
		if !strings.Contains(setCookie, want) {
			t.Fatalf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	csrf := c.csrf()

	// Secrets through the console's forms and through the API, rotated both ways.
	values := map[string]string{}
	for _, k := range []string{"console-v1", "console-v2", "api-v1", "api-v2", "env", "refused", "bad-form", "deleted"} {
		values[k] = canary("leak-" + k)
	}
	list := c.page(company + "/secrets")
	made := c.post(http.StatusSeeOther, company+"/secrets", url.Values{"csrf": {csrf}, "formKey": {formKeyOf(t, list)},
		"name": {"Console made"}, "description": {"typed in the console"}, "value": {values["console-v1"]}})
	loc, _ := url.Parse(made.header.Get("Location"))
	consoleSecret := strings.TrimPrefix(loc.Path, "/console/secrets/")
	if !strings.HasPrefix(loc.Path, "/console/secrets/") || loc.Query().Get("done") != "created" {
		t.Fatalf("create went to %q", made.header.Get("Location"))
	}
	if a := c.post(http.StatusUnprocessableEntity, company+"/secrets", url.Values{"csrf": {csrf}, "name": {"Bad form"},
		"managedMode": {"no_such_mode"}, "value": {values["bad-form"]}}); !strings.Contains(a.body, `class="error"`) {
		t.Fatalf("a refused create: %s", a.body)
	}
	c.post(http.StatusSeeOther, "/console/secrets/"+consoleSecret+"/rotate", url.Values{"csrf": {csrf},
		"formKey": {formKeyOf(t, c.page("/console/secrets/"+consoleSecret))}, "value": {values["console-v2"]}, "expectedLatestVersion": {"1"}})
	apiSecret := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "API made", "value": "`+values["api-v1"]+`"}`).json(t)["id"].(string)
	api.must(200, "POST", "/api/secrets/"+apiSecret+"/rotate", `{"value": "`+values["api-v2"]+`"}`)
	deleted := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Deleted one", "value": "`+values["deleted"]+`"}`).json(t)["id"].(string)
	api.must(200, "DELETE", "/api/secrets/"+deleted, "")

	// Bind both through the console; an env with a sensitive plain value through the API.
	consumer := company + "/consumers/agent/agent-leak"
	for _, b := range []struct{ secret, path string }{{consoleSecret, "app.CONSOLE_KEY"}, {apiSecret, "app.API_KEY"}} {
		c.post(http.StatusSeeOther, company+"/bindings", url.Values{"csrf": {csrf}, "formKey": {formKeyOf(t, c.page(company+"/consumers"))},
			"targetType": {"agent"}, "targetId": {"agent-leak"}, "secretId": {b.secret}, "configPath": {b.path}, "versionSelector": {"latest"}})
	}
	api.must(200, "PUT", "/api/companies/"+companyA+"/consumers/agent/agent-leak/env",
		`{"env": {"SERVICE_TOKEN": {"type": "plain", "value": "`+values["env"]+`"}, "LOG_LEVEL": {"type": "plain", "value": "debug"}}}`)

	// An agent key issued in the console: shown on that answer only, once.
	mu.Lock()
	issuedAt := len(seen)
	mu.Unlock()
	issued := c.post(http.StatusOK, company+"/agent-keys", url.Values{"csrf": {csrf}, "targetType": {"agent"}, "targetId": {"agent-leak"}, "label": {"leak test"}})
	m := agentKeyShow.FindStringSubmatch(issued.body)
	if m == nil {
		t.Fatalf("the issue page shows no key: %s", issued.body)
	}
	consoleKey := m[1]
	if strings.Count(issued.body, consoleKey) != 1 || issued.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the issued key appears %d times; Cache-Control %q", strings.Count(issued.body, consoleKey), issued.header.Get("Cache-Control"))
	}
	apiKey := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-leak"}`).json(t)["token"].(string)
	var resolved struct{ Env, Values map[string]string }
	if err := json.Unmarshal(e.client(t, consoleKey).must(200, "POST", "/api/runtime/resolve", `{"runId": "leak-run"}`).body, &resolved); err != nil {
		t.Fatal(err)
	}
	if resolved.Values["app.CONSOLE_KEY"] != values["console-v2"] || resolved.Values["app.API_KEY"] != values["api-v2"] || resolved.Env["SERVICE_TOKEN"] != values["env"] {
		t.Fatalf("the console-issued key did not resolve the values set through the console and the API: console %v, API %v, env %v (of %d)",
			resolved.Values["app.CONSOLE_KEY"] == values["console-v2"], resolved.Values["app.API_KEY"] == values["api-v2"], resolved.Env["SERVICE_TOKEN"] == values["env"], len(resolved.Values))
	}
	e.client(t, apiKey).must(200, "POST", "/api/runtime/resolve", `{"runId": "leak-run-2"}`)

	// Vaults: a local one through the console, an AWS one (the fake) for the import page.
	c.post(http.StatusSeeOther, company+"/vaults", url.Values{"csrf": {csrf}, "formKey": {formKeyOf(t, c.page(company+"/vaults"))},
		"displayName": {"Local vault"}, "provider": {"local_encrypted"}})
	awsVault := api.must(201, "POST", "/api/companies/"+companyA+"/secret-provider-configs",
		`{"displayName": "AWS team", "provider": "aws_secrets_manager", "config": {"region": "us-east-1"}}`).json(t)["id"].(string)
	external := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Elsewhere", "managedMode": "external_reference",
		"providerConfigId": "`+awsVault+`", "externalRef": "arn:aws:secretsmanager:us-east-1:123456789012:secret:elsewhere"}`).json(t)["id"].(string)
	var localVault string
	for _, v := range api.must(200, "GET", "/api/companies/"+companyA+"/secret-provider-configs?provider=local_encrypted", "").list(t) {
		localVault = v["id"].(string)
	}
	bindings := api.must(200, "GET", "/api/companies/"+companyA+"/secret-bindings", "").list(t)
	keys := api.must(200, "GET", "/api/companies/"+companyA+"/agent-keys", "").list(t)
	if localVault == "" || len(bindings) != 2 || len(keys) != 2 {
		t.Fatalf("vault %q, %d bindings, %d keys", localVault, len(bindings), len(keys))
	}
	binding, key := bindings[0]["id"].(string), keys[0]["id"].(string)

	// Every page: lists, filters, details, reports, error pages, 404s, assets, redirects.
	c.page(company + "/import?preview=1&vault=" + awsVault)
	if a := seen[len(seen)-1]; !strings.Contains(a.body, "team/remote-db-password") || strings.Contains(a.body, awsfake.Account) ||
		strings.Contains(a.body, "paperclip/e2e-dep/") || strings.Contains(a.body, "renamed/managed") {
		t.Fatalf("the import preview does not list the fake's secret, or shows the account id or a managed secret: %s", a.body)
	}
	for _, p := range []string{
		company + "/secrets", company + "/secrets?q=made", company + "/secrets?deleted=true",
		"/console/secrets/" + consoleSecret, "/console/secrets/" + apiSecret, "/console/secrets/" + deleted, "/console/secrets/" + external,
		"/console/secrets/" + consoleSecret + "/exposure", "/console/secrets/" + apiSecret + "/exposure",
		company + "/consumers", consumer, consumer + "/exposure",
		company + "/access", company + "/access?secret=" + apiSecret, company + "/access?consumer=agent/agent-leak&outcome=resolved",
		company + "/access?from=2020-01-01T00:00&to=2999-01-01T00:00",
		company + "/vaults", company + "/import", company + "/import?preview=1",
		"/console/secrets/" + deleted + "/exposure", "/console/static/console.css", "/console/static/console.js", "/console/static/favicon.svg",
	} {
		c.page(p)
	}
	unknown := ulid.Make().String()
	// The companies and ledger pages are searched too; their content is checked at the end.
	summary := map[string]consoleAnswer{}
	for _, p := range []string{"/console/", "/console/?signin=needed", "/console/ledger"} {
		summary[p] = c.get(p)
	}
	for p, status := range map[string]int{
		"/console": http.StatusMovedPermanently, "/console/open?company=" + companyA: http.StatusSeeOther,
		"/console/open?company=nope": http.StatusBadRequest, "/console/secrets/" + unknown: http.StatusNotFound,
		"/console/secrets/" + unknown + "/exposure": http.StatusNotFound, "/console/nope": http.StatusNotFound,
		company + "/access?from=yesterday": http.StatusBadRequest, "/console/static/": http.StatusNotFound,
		"/console/static/nope.js": http.StatusNotFound, "/console/secrets/" + consoleSecret + "/rotate": http.StatusNotFound,
		"/console/companies/" + companyB + "/secrets/x": http.StatusNotFound,
	} {
		if a := c.get(p); a.status != status {
			t.Errorf("GET %s: %d, want %d", p, a.status, status)
		}
	}

	// The stored ciphertext and wrapped data keys, read before the purge below destroys some.
	material := map[string]string{}
	rows, err := db.Query(context.Background(), `SELECT 'ciphertext of ' || secret_id, ciphertext FROM local_secret_values
		UNION ALL SELECT 'wrapped key of ' || secret_id, wrapped_key FROM local_secret_keys WHERE wrapped_key IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for rows.Next() {
		var what string
		var b []byte
		if err := rows.Scan(&what, &b); err != nil {
			t.Fatal(err)
		}
		stored++
		for enc, s := range map[string]string{"base64": base64.StdEncoding.EncodeToString(b), "raw base64": base64.RawStdEncoding.EncodeToString(b),
			"base64url": base64.URLEncoding.EncodeToString(b), "raw base64url": base64.RawURLEncoding.EncodeToString(b),
			"hex": hex.EncodeToString(b), "HEX": strings.ToUpper(hex.EncodeToString(b)), `\x hex`: `\x` + hex.EncodeToString(b)} {
			material[what+" as "+enc] = s
		}
	}
	if rows.Err() != nil || stored < 8 {
		t.Fatalf("%d stored values and keys (%v): the ciphertext search proves little", stored, rows.Err())
	}

	// Every state-changing route, with a valid form.
	type post struct {
		path string
		form url.Values
	}
	posts := []post{
		{company + "/secrets", url.Values{"name": {"Refused"}, "value": {values["refused"]}}},
		{"/console/secrets/" + consoleSecret + "/rotate", url.Values{"value": {values["refused"]}}},
		{"/console/secrets/" + consoleSecret + "/status", url.Values{"status": {"disabled"}}},
		{"/console/secrets/" + consoleSecret + "/delete", url.Values{}},
		{"/console/secrets/" + deleted + "/restore", url.Values{}},
		{"/console/secrets/" + deleted + "/purge", url.Values{"confirm": {deleted}}},
		{company + "/bindings", url.Values{"secretId": {apiSecret}, "targetType": {"agent"}, "targetId": {"agent-refused"}, "configPath": {"app.X"}}},
		{company + "/bindings/" + binding + "/delete", url.Values{}},
		{company + "/agent-keys", url.Values{"targetType": {"agent"}, "targetId": {"agent-refused"}}},
		{company + "/agent-keys/" + key + "/revoke", url.Values{}},
		{company + "/vaults", url.Values{"displayName": {"Refused"}, "provider": {"local_encrypted"}}},
		{company + "/vaults/" + localVault + "/default", url.Values{}},
		{company + "/vaults/" + localVault + "/health", url.Values{}},
		{company + "/vaults/" + localVault + "/disable", url.Values{}},
		{company + "/import", url.Values{"ref": {"arn:aws:secretsmanager:us-east-1:123456789012:secret:team/remote-db-password"}, "providerConfigId": {awsVault}}},
		{company + "/freeze", url.Values{"reason": {"refused"}}},
		{company + "/unfreeze", url.Values{}},
		{consumer + "/freeze", url.Values{"reason": {"refused"}}},
		{consumer + "/unfreeze", url.Values{}},
		{consumer + "/agent-keys/revoke", url.Values{}},
		{"/console/sign-out", url.Values{}}, // last: taken, it would end the session the others use
	}
	with := func(f url.Values, csrf string) url.Values {
		g := url.Values{}
		for k, v := range f {
			g[k] = v
		}
		if csrf != "" {
			g.Set("csrf", csrf)
		}
		return g
	}
	other := newConsoleClient(t, base, &seen, &mu)
	other.signIn(boardToken)
	otherCSRF := other.csrf()   // a live token, of another session
	wrongCSRF := "A" + csrf[1:] // one character off
	if wrongCSRF == csrf {
		wrongCSRF = "B" + csrf[1:]
	}
	head := headOf(t, db)
	for _, p := range posts {
		for _, attempt := range []struct {
			why     string
			form    url.Values
			headers []string
		}{
			{"without csrf", with(p.form, ""), nil},
			{"with a wrong csrf", with(p.form, wrongCSRF), nil},
			{"with another session's csrf", with(p.form, otherCSRF), nil},
			{"from another origin", with(p.form, csrf), []string{"Origin", "https://evil.example"}},
			{"from another site", with(p.form, csrf), []string{"Sec-Fetch-Site", "cross-site"}},
		} {
			if a := c.do(http.MethodPost, p.path, attempt.form, attempt.headers...); a.status != http.StatusForbidden {
				t.Errorf("POST %s %s: %d, want 403", p.path, attempt.why, a.status)
			}
		}
	}
	c.post(http.StatusForbidden, "/console/sign-in", url.Values{"token": {boardToken}}, "Origin", "https://evil.example")
	if now := headOf(t, db); now != head {
		t.Fatalf("refused posts wrote: the log's head moved from %d to %d", head, now)
	}
	if a := c.get(company + "/secrets"); a.status != http.StatusOK {
		t.Fatalf("the refused sign-outs ended the session: %d", a.status)
	}
	// The same post with the session's token is taken: the check above can see a write.
	c.post(http.StatusSeeOther, "/console/secrets/"+consoleSecret+"/status", url.Values{"csrf": {csrf}, "status": {"disabled"}})
	if now := headOf(t, db); now <= head {
		t.Fatalf("an accepted post did not move the head (%d)", now)
	}
	// A remote import through the console: the selected candidate is linked, the page
	// shows each row's result, and importing it again skips it.
	ref := "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/remote-db-password"
	importForm := url.Values{"csrf": {csrf}, "ref": {ref}, "providerConfigId": {awsVault}}
	if a := c.post(http.StatusOK, company+"/import", importForm); !strings.Contains(a.body, "Imported 1, skipped 0, failed 0") ||
		!strings.Contains(a.body, "imported") {
		t.Fatalf("the import result page: %s", a.body)
	}
	linked := false
	for _, sec := range api.must(200, "GET", "/api/companies/"+companyA+"/secrets?q=remote-db-password", "").list(t) {
		linked = linked || (sec["externalRef"] == ref && sec["managedMode"] == "external_reference")
	}
	if !linked {
		t.Fatal("the imported secret is not in the company's secrets")
	}
	if a := c.post(http.StatusOK, company+"/import", importForm); !strings.Contains(a.body, "Imported 0, skipped 1, failed 0") {
		t.Fatalf("importing again: %s", a.body)
	}

	// Incident controls: a freeze through the console stops resolution at once, for the
	// company and for one consumer; the pages say so; revoking a consumer's keys ends them.
	resolveStatus := func() (int, string) {
		r := e.client(t, apiKey).do("POST", "/api/runtime/resolve", `{}`)
		return r.status, string(r.body)
	}
	for _, target := range []struct{ path, page, outcome string }{
		{company, company + "/consumers", "company_frozen"}, {consumer, consumer, "consumer_frozen"},
	} {
		c.post(http.StatusSeeOther, target.path+"/freeze", url.Values{"csrf": {csrf}, "formKey": {formKeyOf(t, c.page(target.page))}, "reason": {"leak drill"}})
		if status, body := resolveStatus(); status != http.StatusForbidden || !strings.Contains(body, target.outcome) {
			t.Fatalf("resolution after a console freeze of %s: %d %s", target.path, status, body)
		}
		if a := c.page(target.page); !strings.Contains(a.body, "Frozen since") || !strings.Contains(a.body, "leak drill") {
			t.Fatalf("%s does not show the freeze", target.page)
		}
		c.post(http.StatusSeeOther, target.path+"/unfreeze", url.Values{"csrf": {csrf}, "formKey": {formKeyOf(t, c.page(target.page))}})
		// (One bound secret was disabled above, so resolution fails on that, not on a freeze.)
		if status, body := resolveStatus(); status == http.StatusForbidden || strings.Contains(body, "frozen") {
			t.Fatalf("resolution after the console unfroze %s: %d %s", target.path, status, body)
		}
	}
	c.post(http.StatusSeeOther, consumer+"/agent-keys/revoke", url.Values{"csrf": {csrf}})
	if status, _ := resolveStatus(); status != http.StatusUnauthorized {
		t.Fatalf("resolution with a key of a consumer whose keys the console revoked: %d", status)
	}

	// Purge, from the deleted secret's page: back to the list of deleted secrets.
	if a := c.page("/console/secrets/" + deleted); !strings.Contains(a.body, `action="/console/secrets/`+deleted+`/purge"`) {
		t.Fatalf("the deleted secret's page has no purge form: %s", a.body)
	}
	purged := c.post(http.StatusSeeOther, "/console/secrets/"+deleted+"/purge", url.Values{"csrf": {csrf}, "confirm": {deleted}})
	if got := purged.header.Get("Location"); got != company+"/secrets?deleted=true&done=purged" {
		t.Fatalf("purge went to %q", got)
	}
	if a := c.page("/console/secrets/" + deleted); !strings.Contains(a.body, "status-purged") || strings.Contains(a.body, "/restore") {
		t.Fatalf("the purged secret's page: %s", a.body)
	}
	c.page("/console/secrets/" + deleted + "/exposure")

	// After sign-out the old cookie is worth nothing.
	old := c.cookie()
	out := c.post(http.StatusSeeOther, "/console/sign-out", url.Values{"csrf": {csrf}})
	if out.header.Get("Location") != "/console/?signin=out" || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %v", out.header)
	}
	thief := c.withCookie(old)
	head = headOf(t, db)
	if a := thief.do(http.MethodPost, "/console/secrets/"+consoleSecret+"/status", url.Values{"csrf": {csrf}, "status": {"active"}}); a.status != http.StatusUnauthorized ||
		!strings.Contains(a.body, `action="/console/sign-in"`) {
		t.Fatalf("a post after sign-out: %d", a.status)
	}
	if a := thief.get(company + "/secrets"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/?signin=needed" {
		t.Fatalf("a page after sign-out: %d %q", a.status, a.header.Get("Location"))
	}
	if now := headOf(t, db); now != head {
		t.Fatalf("a post after sign-out wrote: %d → %d", head, now)
	}

	// A revoked board token ends its sessions at once.
	code, stdout, stderr := e.run(t, "token", "create", "--board", "--label", "console-revoked")
	revokedToken := strings.TrimSpace(stdout)
	if code != 0 || revokedToken == "" {
		t.Fatalf("token create: %d %s", code, stderr)
	}
	code, stdout, stderr = e.run(t, "tokens", "list", "-o", "json")
	var tokens []struct{ ID, Label string }
	if err := json.Unmarshal([]byte(stdout), &tokens); code != 0 || err != nil {
		t.Fatalf("tokens list: %d %v %s", code, err, stderr)
	}
	tokenID := ""
	for _, tk := range tokens {
		if tk.Label == "console-revoked" {
			tokenID = tk.ID
		}
	}
	r := newConsoleClient(t, base, &seen, &mu)
	r.signIn(revokedToken)
	rCSRF := r.csrf()
	if code, _, stderr := e.run(t, "tokens", "revoke", tokenID); code != 0 || tokenID == "" {
		t.Fatalf("tokens revoke %q: %d %s", tokenID, code, stderr)
	}
	head = headOf(t, db)
	if a := r.do(http.MethodPost, "/console/secrets/"+consoleSecret+"/status", url.Values{"csrf": {rCSRF}, "status": {"active"}}); a.status != http.StatusUnauthorized {
		t.Fatalf("a post after the token's revocation: %d", a.status)
	}
	if a := r.get(company + "/consumers"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/?signin=needed" {
		t.Fatalf("a page after the token's revocation: %d %q", a.status, a.header.Get("Location"))
	}
	r.post(http.StatusUnauthorized, "/console/sign-in", url.Values{"token": {revokedToken}})
	if now := headOf(t, db); now != head {
		t.Fatalf("a post after revocation wrote: %d → %d", head, now)
	}

	// What must never appear: values, tokens, keys, and the stored ciphertext and
	// wrapped data keys in any usual encoding.
	secret := map[string]string{"board token": boardToken, "revoked board token": revokedToken, "wrong token": wrongToken,
		"API-issued agent key": apiKey, "AWS value": awsValue}
	for k, v := range values {
		secret["value "+k] = v
	}
	for what, m := range material {
		secret[what] = m
	}
	mu.Lock()
	defer mu.Unlock()
	if seen[issuedAt].path != company+"/agent-keys" {
		t.Fatalf("answer %d is %s, not the issue page", issuedAt, seen[issuedAt].path)
	}
	for i, a := range seen {
		if got := a.header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
			t.Errorf("%s %s: Content-Security-Policy %q", a.method, a.path, got)
		}
		text := a.body + "\n" + fmt.Sprint(a.header)
		for what, s := range secret {
			if strings.Contains(text, s) {
				t.Errorf("%s %s (%d) shows the %s", a.method, a.path, a.status, what)
			}
		}
		if i != issuedAt && strings.Contains(text, consoleKey) {
			t.Errorf("%s %s (%d) shows the console-issued agent key", a.method, a.path, a.status)
		}
	}
	if len(seen) < 100 {
		t.Fatalf("only %d console answers were searched", len(seen))
	}

	// The companies page (GET /api/companies) and the ledger page (GET /api/ledger).
	t.Run("CompaniesAndLedgerPages", func(t *testing.T) {
		for p, a := range summary {
			if a.status != http.StatusOK {
				t.Errorf("GET %s: %d, want 200", p, a.status)
			}
		}
		if a := summary["/console/"]; !strings.Contains(a.body, companyA) {
			t.Errorf("the companies page does not list %s", companyA)
		}
		if a := summary["/console/ledger"]; !strings.Contains(a.body, "Intact") {
			t.Errorf("the ledger page does not say the chain is intact")
		}
	})
}
