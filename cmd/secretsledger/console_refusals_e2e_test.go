package main

// The console's refusals and the leak scan: the steps of TestConsoleLeaksNothing that
// post without a valid session, CSRF token or origin, use the console's incident and
// import forms, sign out, revoke, and search every answer kept.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// consolePost is one state-changing route with a valid form.
type consolePost struct {
	path string
	form url.Values
}

// leakStateChangingPosts is every state-changing route, with a valid form.
func leakStateChangingPosts(l *consoleLeaks) []consolePost {
	company, values, consumer := l.company, l.values, l.consumer
	consoleSecret, apiSecret, deleted := l.consoleSecret, l.apiSecret, l.deleted
	binding, key, localVault, awsVault := l.binding, l.key, l.localVault, l.awsVault
	posts := []consolePost{
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
	return posts
}

// leakRefusedPostsStep: every state-changing post without the session's CSRF token or
// from another origin is refused and writes nothing; with the token it is taken.
func leakRefusedPostsStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, db, base, company, boardToken, csrf, consoleSecret := l.c, l.db, l.base, l.company, l.boardToken, l.csrf, l.consoleSecret
	posts := leakStateChangingPosts(l)
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
	other := newConsoleClient(t, base, &l.seen, &l.mu)
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
}

// leakRemoteImportStep: a remote import through the console: the selected candidate is
// linked, the page shows each row's result, and importing it again skips it.
func leakRemoteImportStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, api, company, csrf, awsVault := l.c, l.api, l.company, l.csrf, l.awsVault
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
}

// leakIncidentControlsStep: a freeze through the console stops resolution at once, for
// the company and for one consumer; the pages say so; revoking a consumer's keys ends
// them.
func leakIncidentControlsStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	e, c, company, csrf, consumer, apiKey := l.e, l.c, l.company, l.csrf, l.consumer, l.apiKey
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
}

// leakPurgeStep purges, from the deleted secret's page: back to the list of deleted
// secrets.
func leakPurgeStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, company, csrf, deleted := l.c, l.company, l.csrf, l.deleted
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
}

// leakSignOutStep: after sign-out the old cookie is worth nothing.
func leakSignOutStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, db, company, csrf, consoleSecret := l.c, l.db, l.company, l.csrf, l.consoleSecret
	old := c.cookie()
	out := c.post(http.StatusSeeOther, "/console/sign-out", url.Values{"csrf": {csrf}})
	if out.header.Get("Location") != "/console/?signin=out" || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %v", out.header)
	}
	thief := c.withCookie(old)
	head := headOf(t, db)
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
}

// leakRevokedTokenStep: a revoked board token ends its sessions at once.
func leakRevokedTokenStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	e, db, base, company, consoleSecret := l.e, l.db, l.base, l.company, l.consoleSecret
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
	r := newConsoleClient(t, base, &l.seen, &l.mu)
	r.signIn(revokedToken)
	rCSRF := r.csrf()
	if code, _, stderr := e.run(t, "tokens", "revoke", tokenID); code != 0 || tokenID == "" {
		t.Fatalf("tokens revoke %q: %d %s", tokenID, code, stderr)
	}
	head := headOf(t, db)
	if a := r.do(http.MethodPost, "/console/secrets/"+consoleSecret+"/status", url.Values{"csrf": {rCSRF}, "status": {"active"}}); a.status != http.StatusUnauthorized {
		t.Fatalf("a post after the token's revocation: %d", a.status)
	}
	if a := r.get(company + "/consumers"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/?signin=needed" {
		t.Fatalf("a page after the token's revocation: %d %q", a.status, a.header.Get("Location"))
	}
	// Signing in again is refused within the bound a serving process learns of a
	// revocation made elsewhere in (docs/secrets.md).
	pollUntil(t, 2*time.Second, func() string {
		if a := r.do(http.MethodPost, "/console/sign-in", url.Values{"token": {revokedToken}}); a.status != http.StatusUnauthorized {
			return fmt.Sprintf("sign-in with the revoked token: %d", a.status)
		}
		return ""
	})
	if now := headOf(t, db); now != head {
		t.Fatalf("a post after revocation wrote: %d → %d", head, now)
	}
	l.revokedToken = revokedToken
}

// leakScanStep searches every answer kept for what must never appear: values, tokens,
// keys, and the stored ciphertext and wrapped data keys in any usual encoding.
func leakScanStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	boardToken, revokedToken, wrongToken, apiKey, awsValue := l.boardToken, l.revokedToken, l.wrongToken, l.apiKey, l.awsValue
	values, material, issuedAt, company, consoleKey := l.values, l.material, l.issuedAt, l.company, l.consoleKey
	secret := map[string]string{"board token": boardToken, "revoked board token": revokedToken, "wrong token": wrongToken,
		"API-issued agent key": apiKey, "AWS value": awsValue}
	for k, v := range values {
		secret["value "+k] = v
	}
	for what, m := range material {
		secret[what] = m
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := l.seen
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
}
