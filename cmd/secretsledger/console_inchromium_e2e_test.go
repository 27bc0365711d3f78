package main

// The console in a real browser: an operator's afternoon, one step per thing they do.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// consoleScreenshots is where TestConsoleInChromium writes the screenshot the docs show
// (console-secrets.png); empty: nowhere but the test's own temporary directory.
var consoleScreenshots = flag.String("console.screenshots", "", "directory to write docs/console-secrets.png into (TestConsoleInChromium)")

// chromiumFlow is what the steps of TestConsoleInChromium share.
type chromiumFlow struct {
	e       *instanceEnv
	api     *apiClient
	b       *chromium
	company string
	sid     string // the secret created in the console
	key     string // the agent key issued in the console
}

// An operator's afternoon in the console, in a real browser: sign in, create, rotate,
// bind, issue an agent key that then resolves the value over the API, find the read in
// the access history, delete and restore, create a vault and make it the default; the
// layout on a phone, a page without JavaScript, and no CSP violation anywhere.
func TestConsoleInChromium(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	db := e.ownerDB(t)
	b := newChromium(t, "http://"+e.addr)
	company := "/console/companies/" + companyA
	v1, v2 := canary("console-v1"), canary("console-v2")
	f := &chromiumFlow{e: e, api: api, b: b, company: company}

	chromiumSignInStep(t, f)
	chromiumCreateSecretStep(t, f, v1)
	chromiumRotateStep(t, f, v2)
	chromiumBindStep(t, f)
	chromiumIssueAgentKeyStep(t, f)
	chromiumAgentResolvesStep(t, f, v2)
	chromiumReadInAccessHistoryStep(t, f)
	chromiumDeleteAndRestoreStep(t, f)
	chromiumDefaultVaultStep(t, f)
	chromiumDocsScreenshotStep(t, f)
	chromiumPhoneLayoutStep(t, f)
	chromiumWithoutJavaScriptStep(t, f)
	chromiumCSPViolationIsSeenStep(t, f)

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
		waitSealed(t, db) // the ledger page shows the sealed log's head
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

// chromiumSignInStep signs in: the form is the page of a browser without a session.
func chromiumSignInStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	e, b := f.e, f.b
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
}

// chromiumCreateSecretStep opens the company by id and creates a secret, its value
// typed into the password field.
func chromiumCreateSecretStep(t *testing.T, f *chromiumFlow, v1 string) {
	t.Helper()
	api, b, company := f.api, f.b, f.company
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
	f.sid = sid
}

// chromiumRotateStep rotates the secret.
func chromiumRotateStep(t *testing.T, f *chromiumFlow, v2 string) {
	t.Helper()
	b := f.b
	b.fill(`form[action$="/rotate"] #value`, v2)
	b.submit(`form[action$="/rotate"] button`, "Secret rotated.")
	if facts := b.text("dl.facts"); !regexp.MustCompile(`Latest version\s+2\s`).MatchString(facts) {
		t.Fatalf("after rotation: %q", facts)
	}
	b.clean("rotated secret")
}

// chromiumBindStep binds the secret to an agent, from the consumers page.
func chromiumBindStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b, company, sid := f.b, f.company, f.sid
	b.page(company + "/consumers")
	b.screenshot("consumers")
	b.clean("consumers")
	b.choose("#bind-targetType", "agent")
	b.fill("#bind-targetId", "agent-console")
	b.choose("#secretId", sid)
	b.fill("#configPath", "env.API_KEY")
	u := b.submit(`form[action$="/bindings"] button`, "Binding created.")
	if u.Path != company+"/consumers/agent/agent-console" || !strings.Contains(b.text("main"), "env.API_KEY") {
		t.Fatalf("after binding: at %s: %q", u, b.text("main"))
	}
	b.screenshot("consumer")
	b.clean("consumer")
}

// chromiumIssueAgentKeyStep issues an agent key: shown once, with a copy button the
// script reveals.
func chromiumIssueAgentKeyStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b := f.b
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
	f.key = key
}

// chromiumAgentResolvesStep: the agent resolves the rotated value over the API with
// that key.
func chromiumAgentResolvesStep(t *testing.T, f *chromiumFlow, v2 string) {
	t.Helper()
	e, key := f.e, f.key
	agent := e.client(t, key)
	var resolved struct{ Env map[string]string }
	if err := json.Unmarshal(agent.must(200, "POST", "/api/runtime/resolve", `{"runId": "console-run"}`).body, &resolved); err != nil {
		t.Fatal(err)
	}
	if resolved.Env["API_KEY"] != v2 {
		t.Fatal("the console-issued key did not resolve the rotated value")
	}
}

// chromiumReadInAccessHistoryStep: the read shows in the access history, and on the
// secret's exposure timeline.
func chromiumReadInAccessHistoryStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b, company, sid := f.b, f.company, f.sid
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
}

// chromiumDeleteAndRestoreStep deletes the secret and restores it.
func chromiumDeleteAndRestoreStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b, sid := f.b, f.sid
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
}

// chromiumDefaultVaultStep creates a vault and makes it the default.
func chromiumDefaultVaultStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	api, b, company := f.api, f.b, f.company
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
}

// chromiumDocsScreenshotStep takes the secrets list as the docs show it, at 1280×800.
func chromiumDocsScreenshotStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	api, b, company := f.api, f.b, f.company
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
}

// chromiumPhoneLayoutStep: on a phone, the page itself never scrolls sideways (wide
// tables scroll in their box).
func chromiumPhoneLayoutStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b, company, sid := f.b, f.company, f.sid
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
}

// chromiumWithoutJavaScriptStep: without JavaScript, pages and forms work; the copy
// button stays hidden.
func chromiumWithoutJavaScriptStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b, company, key := f.b, f.company, f.key
	b.scripts(false)
	b.page(company + "/consumers/agent/agent-console")
	main := value(b, "read the page", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(main, "env.API_KEY") || !strings.Contains(main, "from the console") {
		t.Fatalf("consumer page without JavaScript: %q", main)
	}
	status, _ := b.load("issue a key without JavaScript", chromedp.Click(chromedp.CSS(`form[action$="/agent-keys"] button`)))
	second := value(b, "read the key", chromedp.Value(chromedp.ID("agent-key")))
	if _, hidden := b.attr("button[data-copy]", "hidden"); status != http.StatusOK || second == "" || second == key || !hidden {
		t.Fatalf("issue without JavaScript: %d, a new key: %v, copy button hidden: %v", status, second != "" && second != key, hidden)
	}
	b.screenshot("no-javascript")
	b.scripts(true)
	b.clean("without JavaScript")
}

// chromiumCSPViolationIsSeenStep: the problem listener sees a CSP violation when there
// is one: an inline script the policy must refuse.
func chromiumCSPViolationIsSeenStep(t *testing.T, f *chromiumFlow) {
	t.Helper()
	b, company := f.b, f.company
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
}
