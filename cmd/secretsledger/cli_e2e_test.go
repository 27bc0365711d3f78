package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The API-only features have CLI verbs that work end to end against a real server:
// bindings, agent keys, consumer env, access events, purge, token listing, and events
// with their actor and request id. --output json prints valid JSON, table aligned rows.
func TestCLIVerbsEndToEnd(t *testing.T) {
	t.Parallel()
	cliVerbs(t, onOneProcess(t))
}

// cliSession is what the steps of cliVerbs share: the target, the canaries and the
// environment that passes them, everything the CLI printed, and the secret made.
type cliSession struct {
	tg           *apiTarget
	companyA     string
	value, plain string
	vars         []string
	outputs      strings.Builder
	sid          string
}

// runner gives run, which runs a CLI verb that must succeed and returns its stdout, and
// asJSON, which parses an output that must be JSON; both fail t.
func (c *cliSession) runner(t *testing.T) (func(stdin string, args ...string) string, func(out string, into any)) {
	tg, vars, outputs := c.tg, c.vars, &c.outputs
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := tg.runInput(t, vars, stdin, args...)
		outputs.WriteString(out + errOut)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	asJSON := func(out string, into any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), into); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
	}
	return run, asJSON
}

// cliVerbs runs the CLI verbs of the API-only features; see TestCLIVerbsEndToEnd.
func cliVerbs(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	value, plain := canary("cli-verbs"), canary("cli-plain")
	vars := []string{"MY_SECRET=" + value, "MY_PLAIN=" + plain}
	c := &cliSession{tg: tg, companyA: companyA, value: value, plain: plain, vars: vars}
	run, asJSON := c.runner(t)
	var secret map[string]any
	asJSON(run("", "secrets", "create", "--company", companyA, "--name", "Bound secret", "--value-env", "MY_SECRET"), &secret)
	sid := secret["id"].(string)
	c.sid = sid

	cliBindingsStep(t, c)
	cliConsumerEnvStep(t, c)
	cliAgentKeysStep(t, c)
	cliDeleteAndPurgeStep(t, c)
	tokens := cliTokensStep(t, c)
	cliEventsStep(t, c, tokens)

	if strings.Contains(c.outputs.String(), value) {
		t.Fatal("the CLI printed a secret value")
	}
}

// cliBindingsStep: bindings created, listed (JSON and an aligned table) and deleted.
func cliBindingsStep(t *testing.T, c *cliSession) {
	t.Helper()
	run, asJSON := c.runner(t)
	companyA, sid := c.companyA, c.sid
	var binding map[string]any
	asJSON(run("", "bindings", "create", "-C", companyA, "--secret", sid, "--target-type", "agent", "--target-id", "agent-1",
		"--config-path", "env.API_KEY"), &binding)
	var bindings []map[string]any
	asJSON(run("", "bindings", "list", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1", "--output", "json"), &bindings)
	if len(bindings) != 1 || bindings[0]["id"] != binding["id"] || bindings[0]["secretId"] != sid {
		t.Fatalf("bindings list: %v", bindings)
	}
	if out := run("", "bindings", "list", "-C", companyA, "--target-id", "nobody", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("bindings list --target-id nobody: %s", out)
	}
	table := run("", "bindings", "list", "-C", companyA, "-o", "table")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], "env.API_KEY") || strings.Index(lines[0], "SECRET") != strings.Index(lines[1], sid) {
		t.Fatalf("bindings table:\n%s", table)
	}
	run("", "bindings", "delete", binding["id"].(string))
	if out := run("", "bindings", "list", "-C", companyA, "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("bindings list after delete: %s", out)
	}
}

// cliConsumerEnvStep: consumer env from flags (the plain value from an environment
// variable), then from a JSON body on stdin.
func cliConsumerEnvStep(t *testing.T, c *cliSession) {
	t.Helper()
	run, asJSON := c.runner(t)
	companyA, sid, plain := c.companyA, c.sid, c.plain
	run("", "consumers", "env", "set", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1",
		"--plain", "LOG_LEVEL=MY_PLAIN", "--secret", "DB_PASSWORD="+sid+"@1")
	var envBody struct {
		Env map[string]map[string]any `json:"env"`
	}
	asJSON(run("", "consumers", "env", "get", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1", "-o", "json"), &envBody)
	if envBody.Env["LOG_LEVEL"]["value"] != plain || envBody.Env["DB_PASSWORD"]["secretId"] != sid || envBody.Env["DB_PASSWORD"]["version"] != "1" {
		t.Fatalf("env after set with flags: %v", envBody.Env)
	}
	run(`{"env": {"DB_PASSWORD": {"type": "secret_ref", "secretId": "`+sid+`", "version": "latest"}}}`,
		"consumers", "env", "set", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1")
	envTable := run("", "consumers", "env", "get", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1", "-o", "table")
	if !strings.Contains(envTable, "DB_PASSWORD") || strings.Contains(envTable, "LOG_LEVEL") {
		t.Fatalf("env after set from stdin (replaces the whole env):\n%s", envTable)
	}
}

// cliAgentKeysStep: agent keys: the token alone on stdout; it resolves, which records
// access events.
func cliAgentKeysStep(t *testing.T, c *cliSession) {
	t.Helper()
	run, asJSON := c.runner(t)
	tg, companyA, sid, value := c.tg, c.companyA, c.sid, c.value
	code, token, errOut := tg.run(t, "agent-keys", "issue", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1", "--label", "cli")
	token = strings.TrimSpace(token)
	if code != 0 || !strings.HasPrefix(token, "sla_") || !strings.Contains(errOut, "shown once") {
		t.Fatalf("agent-keys issue: exit %d %q %s", code, token, errOut)
	}
	keyID := strings.Fields(strings.TrimPrefix(errOut, "issued agent key "))[0]
	resolved := tg.client(t, token).must(200, "POST", "/api/runtime/resolve", `{}`).json(t)
	if resolved["env"].(map[string]any)["DB_PASSWORD"] != value {
		t.Fatalf("resolve: the bound value did not come back")
	}
	var access []map[string]any
	asJSON(run("", "access-events", "list", "--secret", sid, "-o", "json"), &access)
	if len(access) == 0 || access[0]["secretId"] != sid || access[0]["outcome"] == nil {
		t.Fatalf("access-events list --secret: %v", access)
	}
	asJSON(run("", "access-events", "list", "-C", companyA, "-o", "json"), &access)
	if len(access) == 0 {
		t.Fatal("access-events list --company: none")
	}
	run("", "agent-keys", "revoke", keyID)
	for range tg.procs {
		tg.client(t, token).must(401, "POST", "/api/runtime/resolve", `{}`)
	}
	var keys []map[string]any
	asJSON(run("", "agent-keys", "list", "-C", companyA, "-o", "json"), &keys)
	if len(keys) != 1 || keys[0]["id"] != keyID || keys[0]["revokedAt"] == nil {
		t.Fatalf("agent-keys list after the revoke: %v", keys)
	}
}

// cliDeleteAndPurgeStep deletes and purges the secret.
func cliDeleteAndPurgeStep(t *testing.T, c *cliSession) {
	t.Helper()
	run, asJSON := c.runner(t)
	tg, companyA, sid := c.tg, c.companyA, c.sid
	run("", "consumers", "env", "set", "-C", companyA, "--target-type", "agent", "--target-id", "agent-1", "--plain", "LOG_LEVEL=MY_PLAIN")
	run("", "secrets", "delete", sid)
	if code, _, errOut := tg.run(t, "secrets", "purge", sid, "--confirm", "not-"+sid); code != 2 || !strings.Contains(errOut, "repeat") {
		t.Fatalf("purge with a wrong confirmation: exit %d %s", code, errOut)
	}
	run("", "secrets", "purge", sid, "--confirm", sid)
	var deleted, live []map[string]any
	asJSON(run("", "secrets", "list", "-C", companyA, "--deleted", "-o", "json"), &deleted)
	asJSON(run("", "secrets", "list", "-C", companyA, "-o", "json"), &live)
	if len(deleted) != 1 || deleted[0]["id"] != sid || deleted[0]["status"] != "purged" || len(live) != 0 {
		t.Fatalf("secrets list --deleted: %v; live: %v", deleted, live)
	}
}

// cliTokensStep: tokens: listed locally, never with a hash. The instance token is the
// one for every company (on a shared database other bodies add tokens limited to their
// companies). It returns the tokens for every company.
func cliTokensStep(t *testing.T, c *cliSession) []map[string]any {
	t.Helper()
	run, asJSON := c.runner(t)
	tg := c.tg
	var listed, tokens []map[string]any
	asJSON(run("", "tokens", "list", "-o", "json"), &listed)
	for _, tok := range listed {
		if tok["companies"] == nil {
			tokens = append(tokens, tok)
		}
		for k := range tok {
			if strings.Contains(strings.ToLower(k), "hash") {
				t.Fatalf("tokens list shows %s", k)
			}
		}
	}
	if len(tokens) != 1 || !strings.HasPrefix(tokens[0]["id"].(string), "tok_") || (!tg.shared && len(listed) != 1) {
		t.Fatalf("tokens list: %v", listed)
	}
	if out := run("", "tokens", "list", "--output", "table"); !strings.Contains(out, tokens[0]["id"].(string)) || !strings.HasPrefix(out, "ID") {
		t.Fatalf("tokens table:\n%s", out)
	}
	return tokens
}

// cliEventsStep: events carry their actor and request id, in JSON lines and in the table.
func cliEventsStep(t *testing.T, c *cliSession, tokens []map[string]any) {
	t.Helper()
	run, asJSON := c.runner(t)
	companyA := c.companyA
	lines := strings.Split(strings.TrimSpace(run("", "events", "tail", "-C", companyA)), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"secret.purged"`) {
		t.Fatalf("the last event is not the purge: %s", last)
	}
	var first map[string]any
	asJSON(lines[0], &first)
	if first["type"] != "secret.created" || first["actorType"] != "board" || first["actorId"] != tokens[0]["id"] || first["requestId"] == "" {
		t.Fatalf("event envelope: %v", first)
	}
	tail := run("", "events", "tail", "-C", companyA, "-o", "table")
	rows := strings.Split(strings.TrimSpace(tail), "\n")
	if !strings.HasPrefix(rows[0], "POSITION") || !strings.Contains(rows[1], "secret.created") ||
		!strings.Contains(rows[1], "board/"+tokens[0]["id"].(string)) || !strings.Contains(rows[1], first["requestId"].(string)) {
		t.Fatalf("events tail table:\n%s", tail)
	}
}
