package main

// The console leaks nothing: the scenario and the steps that fill the instance and walk
// every page; the refusals and the scan of every answer are in
// console_refusals_e2e_test.go.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// consoleLeaks is what the steps of TestConsoleLeaksNothing share: the instance, the
// client and every answer it kept, and what the steps made.
type consoleLeaks struct {
	e          *instanceEnv
	api        *apiClient
	db         *pgx.Conn
	base       string
	company    string
	boardToken string
	awsValue   string
	mu         sync.Mutex
	seen       []consoleAnswer
	c          *consoleClient

	wrongToken, csrf, revokedToken    string
	values                            map[string]string
	consoleSecret, apiSecret, deleted string
	consumer                          string
	issuedAt                          int
	consoleKey, apiKey                string
	awsVault, localVault, external    string
	binding, key                      string
	summary                           map[string]consoleAnswer
	material                          map[string]string
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
	e.waitReady(t, s)
	boardToken := e.instanceToken(t)
	api := e.client(t, boardToken)
	db := e.ownerDB(t)
	base := "http://" + e.addr
	company := "/console/companies/" + companyA
	l := &consoleLeaks{e: e, api: api, db: db, base: base, company: company, boardToken: boardToken, awsValue: awsValue}
	l.c = newConsoleClient(t, base, &l.seen, &l.mu)

	leakSignInStep(t, l)
	leakSecretsStep(t, l)
	leakBindStep(t, l)
	leakIssueAgentKeyStep(t, l)
	leakVaultsStep(t, l)
	leakEveryPageStep(t, l)
	leakStoredMaterialStep(t, l)
	leakRefusedPostsStep(t, l)
	leakRemoteImportStep(t, l)
	leakIncidentControlsStep(t, l)
	leakPurgeStep(t, l)
	leakSignOutStep(t, l)
	leakRevokedTokenStep(t, l)
	leakScanStep(t, l)

	summary := l.summary
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

// leakSignInStep signs in: a cookie the page's scripts cannot read, sent to the console
// only.
func leakSignInStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, boardToken := l.c, l.boardToken
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
	l.wrongToken, l.csrf = wrongToken, csrf
}

// leakSecretsStep makes secrets through the console's forms and through the API,
// rotated both ways.
func leakSecretsStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, api, company, csrf := l.c, l.api, l.company, l.csrf
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
	l.values, l.consoleSecret, l.apiSecret, l.deleted = values, consoleSecret, apiSecret, deleted
}

// leakBindStep binds both through the console; an env with a sensitive plain value
// through the API.
func leakBindStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, api, company, csrf, values := l.c, l.api, l.company, l.csrf, l.values
	consoleSecret, apiSecret := l.consoleSecret, l.apiSecret
	consumer := company + "/consumers/agent/agent-leak"
	for _, b := range []struct{ secret, path string }{{consoleSecret, "app.CONSOLE_KEY"}, {apiSecret, "app.API_KEY"}} {
		c.post(http.StatusSeeOther, company+"/bindings", url.Values{"csrf": {csrf}, "formKey": {formKeyOf(t, c.page(company+"/consumers"))},
			"targetType": {"agent"}, "targetId": {"agent-leak"}, "secretId": {b.secret}, "configPath": {b.path}, "versionSelector": {"latest"}})
	}
	api.must(200, "PUT", "/api/companies/"+companyA+"/consumers/agent/agent-leak/env",
		`{"env": {"SERVICE_TOKEN": {"type": "plain", "value": "`+values["env"]+`"}, "LOG_LEVEL": {"type": "plain", "value": "debug"}}}`)
	l.consumer = consumer
}

// leakIssueAgentKeyStep issues an agent key in the console: shown on that answer only,
// once.
func leakIssueAgentKeyStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	e, c, api, company, csrf, values := l.e, l.c, l.api, l.company, l.csrf, l.values
	l.mu.Lock()
	issuedAt := len(l.seen)
	l.mu.Unlock()
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
	l.issuedAt, l.consoleKey, l.apiKey = issuedAt, consoleKey, apiKey
}

// leakVaultsStep makes the vaults: a local one through the console, an AWS one (the
// fake) for the import page.
func leakVaultsStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, api, company, csrf := l.c, l.api, l.company, l.csrf
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

	l.awsVault, l.localVault, l.external, l.binding, l.key = awsVault, localVault, external, binding, key
}

// leakEveryPageStep opens every page: lists, filters, details, reports, error pages,
// 404s, assets, redirects.
func leakEveryPageStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	c, company, awsVault, consumer := l.c, l.company, l.awsVault, l.consumer
	consoleSecret, apiSecret, deleted, external := l.consoleSecret, l.apiSecret, l.deleted, l.external
	c.page(company + "/import?preview=1&vault=" + awsVault)
	if a := l.seen[len(l.seen)-1]; !strings.Contains(a.body, "team/remote-db-password") || strings.Contains(a.body, awsfake.Account) ||
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
	l.summary = summary
}

// leakStoredMaterialStep reads the stored ciphertext and wrapped data keys, before the
// purge below destroys some.
func leakStoredMaterialStep(t *testing.T, l *consoleLeaks) {
	t.Helper()
	db := l.db
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
	l.material = material
}
