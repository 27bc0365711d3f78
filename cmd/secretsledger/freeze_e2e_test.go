package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// twoProcesses starts two serve processes on one fresh database and one NATS server,
// with one master key; their CLI runs with the instance token, which it returns.
func twoProcesses(t *testing.T) (p1, p2 *instanceEnv, s1, s2 *server, token string) {
	t.Helper()
	return twoProcessesOn(t, "DATABASE_URL="+pgtest.NewDatabase(t))
}

// twoProcessesOn starts two serve processes on the database settings dbVars
// (DATABASE_URL and perhaps DATABASE_MIGRATION_URL), one NATS server and one master
// key; their CLI runs with the instance token, which it returns.
func twoProcessesOn(t *testing.T, dbVars ...string) (p1, p2 *instanceEnv, s1, s2 *server, token string) {
	t.Helper()
	tg := onTwoProcesses(t, dbVars...)
	return tg.procs[0], tg.procs[1], tg.servers[0], tg.servers[1], tg.token
}

func TestFreezeAndRevokeAllAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	freezeAndRevokeAll(t, onTwoProcesses(t, "DATABASE_URL="+pgtest.NewDatabase(t)))
}

// freezeDrill is what the steps of freezeAndRevokeAll share.
type freezeDrill struct {
	companyA, companyB string
	p1, p2             *instanceEnv
	board1, board2     *apiClient
	value              string
	x1, x2, y1         string // two keys of agent-x, one of agent-y
}

// freezeTools gives the drill's checks, each failing t: cli runs a verb through a
// process and parses its JSON answer; agent(process, key) resolves through that process;
// resolves wants the value; refused wants a 403 with outcome and no value; lastOutcome is
// the newest recorded outcome of a consumer.
func freezeTools(t *testing.T, d *freezeDrill) (
	cli func(e *instanceEnv, args ...string) map[string]any,
	agent func(e *instanceEnv, key string) *apiClient,
	resolves func(api *apiClient),
	refused func(api *apiClient, outcome string),
	lastOutcome func(api *apiClient, consumer string) string,
) {
	companyA, value := d.companyA, d.value
	cli = func(e *instanceEnv, args ...string) map[string]any {
		t.Helper()
		code, out, errOut := e.run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		var answer map[string]any
		if err := json.Unmarshal([]byte(out), &answer); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		return answer
	}
	// agent(process, key) resolves through that process.
	agent = func(e *instanceEnv, key string) *apiClient { return e.client(t, key) }
	resolves = func(api *apiClient) {
		t.Helper()
		r := api.must(200, "POST", "/api/runtime/resolve", `{}`).json(t)
		if r["env"].(map[string]any)["API_KEY"] != value {
			t.Fatalf("resolution did not return the value: %v", r["manifest"])
		}
	}
	refused = func(api *apiClient, outcome string) {
		t.Helper()
		r := api.do("POST", "/api/runtime/resolve", `{}`)
		if r.status != 403 || !strings.Contains(string(r.body), outcome) || strings.Contains(string(r.body), value) {
			t.Fatalf("resolution while frozen: %d %s, want 403 %s and no value", r.status, r.body, outcome)
		}
	}
	lastOutcome = func(api *apiClient, consumer string) string {
		t.Helper()
		for _, ev := range api.must(200, "GET", "/api/companies/"+companyA+"/access-events?limit=20", "").list(t) {
			if ev["consumer"] == consumer {
				if ev["errorCode"] == nil {
					return ev["outcome"].(string)
				}
				return ev["errorCode"].(string)
			}
		}
		return ""
	}
	return cli, agent, resolves, refused, lastOutcome
}

// freezeAndRevokeAll: the incident controls against two real ledger processes on one
// database: a freeze made through one is in force in the other on the very next
// request (both have resolved before, so both hold the consumer in their caches),
// every refused attempt is recorded, a consumer freeze stops that consumer only, and
// revoking every key of a consumer leaves the others' keys alone. The verbs go through
// the CLI. With one process, both sides are that process.
func freezeAndRevokeAll(t *testing.T, tg *apiTarget) {
	companyA, companyB := tg.companies()
	p1, p2, token := tg.proc(0), tg.proc(1), tg.token
	board1, board2 := p1.client(t, token), p2.client(t, token)
	value := canary("freeze")
	d := &freezeDrill{companyA: companyA, companyB: companyB, p1: p1, p2: p2, board1: board1, board2: board2, value: value}

	freezeSetupStep(t, d)
	freezeCompanyStep(t, d)
	unfreezeCompanyStep(t, d)
	freezeOneConsumerStep(t, d)
	revokeEveryKeyOfAConsumerStep(t, d)
	otherCompanySeesNoFreezeStep(t, d)

	tg.stop(t)
	if strings.Contains(tg.logs(), value) {
		t.Error("the value is in a server log")
	}
	if strings.Contains(board1.seen.String()+board2.seen.String(), value) {
		t.Error("a board response carried the value")
	}
}

// freezeSetupStep binds a secret to two agents, issues their keys, and resolves through
// both processes, so both hold the consumers in their caches.
func freezeSetupStep(t *testing.T, d *freezeDrill) {
	t.Helper()
	_, agent, resolves, _, _ := freezeTools(t, d)
	companyA, p1, p2, board1, value := d.companyA, d.p1, d.p2, d.board1, d.value
	sid := board1.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "S", "value": "`+value+`"}`).json(t)["id"].(string)
	for _, target := range []string{"agent-x", "agent-y"} {
		board1.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
			`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "`+target+`", "configPath": "env.API_KEY"}`)
	}
	issue := func(target string) string {
		return board1.must(201, "POST", "/api/companies/"+companyA+"/agent-keys",
			`{"targetType": "agent", "targetId": "`+target+`"}`).json(t)["token"].(string)
	}
	x1, x2, y1 := issue("agent-x"), issue("agent-x"), issue("agent-y")
	for _, e := range []*instanceEnv{p1, p2} { // both processes hold the consumers in their caches
		resolves(agent(e, x1))
		resolves(agent(e, y1))
	}
	d.x1, d.x2, d.y1 = x1, x2, y1
}

// freezeCompanyStep freezes the company through process 1; process 2 refuses the very
// next resolution.
func freezeCompanyStep(t *testing.T, d *freezeDrill) {
	t.Helper()
	cli, agent, _, refused, lastOutcome := freezeTools(t, d)
	companyA, p1, p2, board2, x1, x2, y1 := d.companyA, d.p1, d.p2, d.board2, d.x1, d.x2, d.y1
	frozen := cli(p1, "freeze", "-C", companyA, "--reason", "incident 7: runner image leaked")
	if frozen["frozen"] != true || frozen["reason"] != "incident 7: runner image leaked" || frozen["position"].(float64) == 0 {
		t.Fatalf("freeze answer: %v", frozen)
	}
	refused(agent(p2, x1), "company_frozen")
	refused(agent(p2, y1), "company_frozen")
	refused(agent(p1, x2), "company_frozen")
	if got := lastOutcome(board2, "agent/agent-x"); got != "company_frozen" {
		t.Fatalf("the refused attempt is not recorded: last outcome of agent-x %q", got)
	}
	if st := cli(p2, "freeze", "--status", "-C", companyA); st["frozen"] != true || st["frozenBy"] == nil || st["frozenAt"] == nil {
		t.Fatalf("freeze --status through process 2: %v", st)
	}
}

// unfreezeCompanyStep unfreezes through process 2; process 1 resolves again at once.
func unfreezeCompanyStep(t *testing.T, d *freezeDrill) {
	t.Helper()
	cli, agent, resolves, _, _ := freezeTools(t, d)
	companyA, p1, p2, x1, y1 := d.companyA, d.p1, d.p2, d.x1, d.y1
	if st := cli(p2, "unfreeze", "-C", companyA, "--reason", "keys rotated"); st["frozen"] != false {
		t.Fatalf("unfreeze answer: %v", st)
	}
	resolves(agent(p1, x1))
	resolves(agent(p1, y1))
}

// freezeOneConsumerStep: one consumer: agent-x is refused everywhere, agent-y is not.
func freezeOneConsumerStep(t *testing.T, d *freezeDrill) {
	t.Helper()
	cli, agent, resolves, refused, lastOutcome := freezeTools(t, d)
	companyA, p1, p2, board1, x1, x2, y1 := d.companyA, d.p1, d.p2, d.board1, d.x1, d.x2, d.y1
	cli(p2, "freeze", "-C", companyA, "--target-type", "agent", "--target-id", "agent-x", "--reason", "x leaked")
	refused(agent(p1, x1), "consumer_frozen")
	refused(agent(p2, x2), "consumer_frozen")
	resolves(agent(p1, y1))
	resolves(agent(p2, y1))
	if got := lastOutcome(board1, "agent/agent-x"); got != "consumer_frozen" {
		t.Fatalf("last outcome of agent-x %q", got)
	}
	if st := board1.must(200, "GET", "/api/companies/"+companyA+"/consumers/agent/agent-x/freeze", "").json(t); st["frozen"] != true ||
		st["reason"] != "x leaked" {
		t.Fatalf("consumer freeze state: %v", st)
	}
	if st := board1.must(200, "GET", "/api/companies/"+companyA+"/freeze", "").json(t); st["frozen"] != false {
		t.Fatalf("company freeze state: %v", st)
	}
	cli(p1, "unfreeze", "-C", companyA, "--target-type", "agent", "--target-id", "agent-x")
	resolves(agent(p2, x1))
}

// revokeEveryKeyOfAConsumerStep revokes every key of agent-x: both of its keys stop at
// once in both processes; agent-y's does not.
func revokeEveryKeyOfAConsumerStep(t *testing.T, d *freezeDrill) {
	t.Helper()
	cli, agent, resolves, _, _ := freezeTools(t, d)
	companyA, p1, p2, x1, x2, y1 := d.companyA, d.p1, d.p2, d.x1, d.x2, d.y1
	revoked := cli(p1, "agent-keys", "revoke", "--all", "-C", companyA, "--target-type", "agent", "--target-id", "agent-x")
	if revoked["revoked"] != float64(2) || len(revoked["keyIds"].([]any)) != 2 {
		t.Fatalf("revoke --all: %v", revoked)
	}
	for _, e := range []*instanceEnv{p1, p2} {
		agent(e, x1).must(401, "POST", "/api/runtime/resolve", `{}`)
		agent(e, x2).must(401, "POST", "/api/runtime/resolve", `{}`)
		resolves(agent(e, y1))
	}
	if again := cli(p2, "agent-keys", "revoke", "--all", "-C", companyA, "--target-type", "agent", "--target-id", "agent-x"); again["revoked"] != float64(0) {
		t.Fatalf("revoke --all again: %v", again)
	}
}

// otherCompanySeesNoFreezeStep: another company's board token sees none of it.
func otherCompanySeesNoFreezeStep(t *testing.T, d *freezeDrill) {
	t.Helper()
	companyA, companyB, p1 := d.companyA, d.companyB, d.p1
	code, out, errOut := p1.run(t, "token", "create", "--board", "--company", companyB)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	other := p1.client(t, strings.TrimSpace(out))
	other.must(404, "POST", "/api/companies/"+companyA+"/freeze", `{"reason": "x"}`)
	other.must(404, "POST", "/api/companies/"+companyA+"/consumers/agent/agent-y/agent-keys/revoke", "")
}
