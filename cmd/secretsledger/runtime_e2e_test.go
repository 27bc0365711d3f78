package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The Done-when flow of runtime resolution, against the real binary.
func TestRuntimeResolutionEndToEnd(t *testing.T) {
	t.Parallel()
	runtimeResolution(t, onOneProcess(t))
}

// runtimeRun is what the steps of runtimeResolution share.
type runtimeRun struct {
	tg                        *apiTarget
	boardAPI                  *apiClient
	companyA                  string
	v1, v2                    string
	plainSensitive, plainOpen string
	sid                       string
	keyX                      map[string]any
	agentX, agentY            *apiClient
}

// runtimeResolution binds a secret (latest and pinned) and an env to a consumer,
// resolves through an agent key across a rotation, records every attempt, keeps each
// credential in its lane, refuses a deleted secret and a revoked key, and lets no
// value into the database, the logs or a board answer.
func runtimeResolution(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	boardAPI := tg.client(t, tg.token)
	v1, v2 := canary("rt1"), canary("rt2")
	plainSensitive, plainOpen := canary("plain-token"), canary("plain-level")
	rr := &runtimeRun{tg: tg, boardAPI: boardAPI, companyA: companyA, v1: v1, v2: v2, plainSensitive: plainSensitive, plainOpen: plainOpen}

	runtimeBindingsEnvAndKeysStep(t, rr)
	runtimeResolveAndRotateStep(t, rr)
	runtimeAccessEventsStep(t, rr)
	runtimeLanesDeleteAndRevokeStep(t, rr)

	// Canary: no secret or plain env value in the database or the log; in responses
	// only where a value is meant to leave (resolve) or is shown by design (a
	// non-sensitive plain env value).
	tg.stop(t)
	dump := tg.pgDump(t)
	for _, v := range []string{v1, v2, plainSensitive, plainOpen} {
		if strings.Contains(dump, v) || strings.Contains(tg.logs(), v) {
			t.Errorf("plaintext %s found in the database dump or the server log", v)
		}
	}
	if strings.Contains(boardAPI.seen.String(), plainSensitive) || strings.Contains(boardAPI.seen.String(), v1) ||
		strings.Contains(boardAPI.seen.String(), v2) {
		t.Error("a board response carried a secret value")
	}
}

// runtimeBindingsEnvAndKeysStep binds a secret to agent-x twice (latest and pinned to 1),
// gives it an env with plain values and a secret reference, and issues keys to agent-x
// and agent-y.
func runtimeBindingsEnvAndKeysStep(t *testing.T, rr *runtimeRun) {
	t.Helper()
	tg, boardAPI, companyA, v1, plainSensitive, plainOpen := rr.tg, rr.boardAPI, rr.companyA, rr.v1, rr.plainSensitive, rr.plainOpen
	sid := boardAPI.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "S", "value": "`+v1+`"}`).json(t)["id"].(string)
	b := boardAPI.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "agent-x", "configPath": "env.API_KEY", "versionSelector": "latest"}`).json(t)
	if b["configPath"] != "env.API_KEY" || b["required"] != true {
		t.Fatalf("binding %v", b)
	}
	boardAPI.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "agent-x", "configPath": "pinned.API_KEY", "versionSelector": 1}`)
	boardAPI.must(200, "PUT", "/api/companies/"+companyA+"/consumers/agent/agent-x/env",
		`{"env": {"SERVICE_TOKEN": {"type": "plain", "value": "`+plainSensitive+`"}, "LOG_LEVEL": {"type": "plain", "value": "`+plainOpen+`"},
		  "API_KEY": {"type": "secret_ref", "secretId": "`+sid+`", "version": "latest"}}}`)
	envView := boardAPI.must(200, "GET", "/api/companies/"+companyA+"/consumers/agent/agent-x/env", "").json(t)["env"].(map[string]any)
	if envView["SERVICE_TOKEN"].(map[string]any)["value"] != "***REDACTED***" || envView["LOG_LEVEL"].(map[string]any)["value"] != plainOpen {
		t.Fatalf("env view %v", envView)
	}
	keyX := boardAPI.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-x", "label": "x"}`).json(t)
	keyY := boardAPI.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-y"}`).json(t)
	agentX := tg.client(t, keyX["token"].(string))
	agentY := tg.client(t, keyY["token"].(string))
	rr.sid, rr.keyX, rr.agentX, rr.agentY = sid, keyX, agentX, agentY
}

// runtimeResolveAndRotateStep: agent-x resolves the latest and the pinned value, then
// the rotated latest beside the still pinned first; agent-y, unbound, is refused.
func runtimeResolveAndRotateStep(t *testing.T, rr *runtimeRun) {
	t.Helper()
	boardAPI, sid, agentX, agentY := rr.boardAPI, rr.sid, rr.agentX, rr.agentY
	v1, v2, plainSensitive, plainOpen := rr.v1, rr.v2, rr.plainSensitive, rr.plainOpen
	type resolution struct {
		Env      map[string]string
		Values   map[string]string
		Manifest []map[string]any
	}
	resolve := func(c *apiClient, body string) resolution {
		t.Helper()
		var r resolution
		if err := json.Unmarshal(c.must(200, "POST", "/api/runtime/resolve", body).body, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := resolve(agentX, `{"runId": "run-1"}`)
	if r.Env["API_KEY"] != v1 || r.Values["pinned.API_KEY"] != v1 || r.Env["SERVICE_TOKEN"] != plainSensitive || r.Env["LOG_LEVEL"] != plainOpen {
		t.Fatalf("first resolve: %+v", r.Manifest)
	}
	boardAPI.must(200, "POST", "/api/secrets/"+sid+"/rotate", `{"value": "`+v2+`"}`)
	r = resolve(agentX, `{"runId": "run-2", "issueId": "iss-7"}`)
	if r.Env["API_KEY"] != v2 || r.Values["pinned.API_KEY"] != v1 {
		t.Fatalf("after rotation: API_KEY v2? %v, pinned v1? %v", r.Env["API_KEY"] == v2, r.Values["pinned.API_KEY"] == v1)
	}
	missing := agentY.must(422, "POST", "/api/runtime/resolve", `{"configPaths": ["env.API_KEY"]}`)
	if !strings.Contains(string(missing.body), "binding_missing") {
		t.Fatalf("agent Y: %s", missing.body)
	}
}

// runtimeAccessEventsStep: every attempt is an access event, newest first and paged;
// the secret's last resolution and usage are kept.
func runtimeAccessEventsStep(t *testing.T, rr *runtimeRun) {
	t.Helper()
	boardAPI, companyA, sid := rr.boardAPI, rr.companyA, rr.sid
	events := boardAPI.must(200, "GET", "/api/secrets/"+sid+"/access-events", "").list(t)
	if len(events) != 4 {
		t.Fatalf("access events of S: %d, want 4 (2 calls × 2 bindings)", len(events))
	}
	if events[0]["runId"] != "run-2" || events[0]["issueId"] != "iss-7" || events[0]["outcome"] != "resolved" || events[len(events)-1]["runId"] != "run-1" {
		t.Fatalf("access events not newest first with run ids: %v", events)
	}
	page := boardAPI.must(200, "GET", fmt.Sprintf("/api/secrets/%s/access-events?limit=2&before=%d", sid, int64(events[1]["position"].(float64))), "").list(t)
	if len(page) != 2 || page[0]["id"] != events[2]["id"] {
		t.Fatalf("second page: %v", page)
	}
	companyEvents := boardAPI.must(200, "GET", "/api/companies/"+companyA+"/access-events", "").list(t)
	foundY := false
	for _, ev := range companyEvents {
		if ev["consumer"] == "agent/agent-y" && ev["errorCode"] == "binding_missing" {
			foundY = true
		}
	}
	if !foundY {
		t.Fatalf("agent Y's attempt is not recorded: %v", companyEvents)
	}
	if sec := boardAPI.must(200, "GET", "/api/secrets/"+sid, "").json(t); sec["lastResolvedAt"] == nil {
		t.Fatal("lastResolvedAt not set")
	}
	if usage := boardAPI.must(200, "GET", "/api/secrets/"+sid+"/usage", "").list(t); len(usage) != 2 {
		t.Fatalf("usage: %v", usage)
	}
}

// runtimeLanesDeleteAndRevokeStep: credentials stay in their lane; deleting the secret
// is recorded as secret_deleted and no value leaves; revoking a key takes effect at once.
func runtimeLanesDeleteAndRevokeStep(t *testing.T, rr *runtimeRun) {
	t.Helper()
	tg, boardAPI, companyA, sid, keyX, agentX, v2 := rr.tg, rr.boardAPI, rr.companyA, rr.sid, rr.keyX, rr.agentX, rr.v2
	// Credentials stay in their lane.
	agentX.must(403, "GET", "/api/companies/"+companyA+"/secrets", "")
	agentX.must(403, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-x"}`)
	boardAPI.must(403, "POST", "/api/runtime/resolve", `{}`)

	// Deleting S: the attempt is recorded as secret_deleted and no value leaves.
	boardAPI.must(200, "DELETE", "/api/secrets/"+sid, "")
	gone := agentX.do("POST", "/api/runtime/resolve", `{"configPaths": ["env.API_KEY"]}`)
	if gone.status != 422 || !strings.Contains(string(gone.body), "secret_deleted") || strings.Contains(string(gone.body), v2) {
		t.Fatalf("resolve after delete: %d %s", gone.status, gone.body)
	}
	if ev := boardAPI.must(200, "GET", "/api/companies/"+companyA+"/access-events?limit=1", "").list(t); ev[0]["errorCode"] != "secret_deleted" {
		t.Fatalf("latest access event: %v", ev)
	}
	// Revoking a key takes effect at once, on every process.
	boardAPI.must(200, "DELETE", "/api/agent-keys/"+keyX["id"].(string), "")
	for range tg.procs {
		agentX.must(401, "POST", "/api/runtime/resolve", `{}`)
	}
}

func TestBindingAndEnvBadInput(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = []string{"PAPERCLIP_SECRETS_STRICT_MODE=true"}
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	mine := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "mine", "value": "v"}`).json(t)["id"].(string)
	theirs := api.must(201, "POST", "/api/companies/"+companyB+"/secrets", `{"name": "theirs", "value": "v"}`).json(t)["id"].(string)
	deleted := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "deleted", "value": "v"}`).json(t)["id"].(string)
	api.must(200, "DELETE", "/api/secrets/"+deleted, "")
	bindings := "/api/companies/" + companyA + "/secret-bindings"
	bind := func(secret, path, selector string) string {
		return `{"secretId": "` + secret + `", "targetType": "agent", "targetId": "x", "configPath": "` + path + `", "versionSelector": ` + selector + `}`
	}
	api.must(201, "POST", bindings, bind(mine, "env.TAKEN", `"latest"`))
	env := "/api/companies/" + companyA + "/consumers/agent/x/env"
	many := make([]string, 20000)
	for i := range many {
		many[i] = fmt.Sprintf(`"K%d": {"type": "plain", "value": ""}`, i)
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"binding to another company's secret", "POST", bindings, bind(theirs, "env.B", `"latest"`), 404},
		{"binding to a deleted secret", "POST", bindings, bind(deleted, "env.D", `"latest"`), 404},
		{"duplicate config path", "POST", bindings, bind(mine, "env.TAKEN", `"latest"`), 409},
		{"pinned version that does not exist", "POST", bindings, bind(mine, "env.P", `5`), 422},
		{"unknown target type", "POST", bindings, strings.Replace(bind(mine, "env.Q", `"latest"`), `"agent"`, `"robot"`, 1), 422},
		{"invalid env key", "PUT", env, `{"env": {"1BAD": {"type": "plain", "value": "x"}}}`, 422},
		{"env with 20,000 keys", "PUT", env, `{"env": {` + strings.Join(many, ",") + `}}`, 413},
		{"env body over 1 MiB", "PUT", env, `{"env": {"BIG": {"type": "plain", "value": "` + strings.Repeat("x", 1<<20) + `"}}}`, 413},
		{"secret_ref to a deleted secret", "PUT", env, `{"env": {"K": {"type": "secret_ref", "secretId": "` + deleted + `"}}}`, 404},
		{"strict mode refuses a plain sensitive value", "PUT", env, `{"env": {"DB_PASSWORD": {"type": "plain", "value": "hunter2"}}}`, 422},
		{"board token on the resolve route", "POST", "/api/runtime/resolve", `{}`, 403},
	} {
		r := api.do(tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, truncate(r.body), tc.status)
		}
	}
	if r := api.do("PUT", env, `{"env": {"DB_PASSWORD": {"type": "plain", "value": "hunter2"}}}`); !strings.Contains(string(r.body), "Strict secret mode requires secret references for sensitive key: DB_PASSWORD") {
		t.Errorf("strict mode message: %s", r.body)
	}
	e.client(t, "sla_unknown").must(401, "POST", "/api/runtime/resolve", `{}`)
	// Env PUT syncs env.* bindings and leaves the others alone.
	api.must(201, "POST", bindings, bind(mine, "config.other", `"latest"`))
	api.must(200, "PUT", env, `{"env": {"NEW": {"type": "secret_ref", "secretId": "`+mine+`", "version": 1}, "LEVEL": {"type": "plain", "value": "debug"}}}`)
	list := api.must(200, "GET", bindings+"?targetType=agent&targetId=x", "").list(t)
	paths := []string{}
	for _, b := range list {
		paths = append(paths, fmt.Sprintf("%s@%v", b["configPath"], b["versionSelector"]))
	}
	if strings.Join(paths, ",") != "config.other@latest,env.NEW@1" {
		t.Fatalf("bindings after env PUT: %v", paths)
	}
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func TestMigrateInlineEnv(t *testing.T) {
	t.Parallel()
	migrateInlineEnv(t, onOneProcess(t))
}

// migrateInlineEnv: the CLI's dry run writes nothing, --apply turns a sensitive plain
// env value into a secret reference, a second --apply finds nothing to do, and the
// migrated value resolves.
func migrateInlineEnv(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	api := tg.client(t, tg.token)
	token := canary("inline")
	api.must(200, "PUT", "/api/companies/"+companyA+"/consumers/agent/agent-12345678-abc/env",
		`{"env": {"OPENAI_API_KEY": {"type": "plain", "value": "`+token+`"}, "LOG_LEVEL": {"type": "plain", "value": "info"}}}`)

	code, out, errOut := tg.run(t, "secrets", "migrate-inline-env", "--company-id", companyA)
	if code != 0 || !strings.Contains(out, `would create secret "agent_agent-12_openai_api_key"`) || strings.Contains(out, "LOG_LEVEL") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
	}
	if l := api.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").list(t); len(l) != 0 {
		t.Fatal("the dry run wrote something")
	}
	code, out, errOut = tg.run(t, "secrets", "migrate-inline-env", "--company-id", companyA, "--apply")
	if code != 0 || !strings.Contains(out, `did create secret "agent_agent-12_openai_api_key"`) {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	envView := api.must(200, "GET", "/api/companies/"+companyA+"/consumers/agent/agent-12345678-abc/env", "").json(t)["env"].(map[string]any)
	if entry := envView["OPENAI_API_KEY"].(map[string]any); entry["type"] != "secret_ref" || envView["LOG_LEVEL"].(map[string]any)["value"] != "info" {
		t.Fatalf("env after apply: %v", envView)
	}
	code, out, _ = tg.run(t, "secrets", "migrate-inline-env", "--company-id", companyA, "--apply")
	if code != 0 || !strings.Contains(out, "nothing to migrate") {
		t.Fatalf("second apply: %d %s", code, out)
	}
	// The migrated value resolves for the consumer.
	key := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-12345678-abc"}`).json(t)
	r := tg.client(t, key["token"].(string)).must(200, "POST", "/api/runtime/resolve", `{}`).json(t)
	if r["env"].(map[string]any)["OPENAI_API_KEY"] != token {
		t.Fatal("the migrated value does not resolve")
	}
}
