package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// A client that times out during a failover retries through the other process: the
// retry is the first answer (a binding, an agent key's token), with Idempotent-Replayed
// and the first X-Ledger-Position, and writes nothing; the token replayed is the one
// that works, no second key exists, and the database keeps no token in the clear.
func TestARetryThroughAnotherProcessGetsTheFirstAnswer(t *testing.T) {
	t.Parallel()
	tg := onTwoProcesses(t, "DATABASE_URL="+pgtest.NewDatabase(t))
	company, _ := tg.companies()
	api := tg.client(t, tg.token) // each request goes to the other process
	secret := api.must(201, "POST", "/api/companies/"+company+"/secrets", `{"name": "Retried", "value": "v"}`).json(t)["id"].(string)
	head := func() string {
		out, err := tg.psql(t, `SELECT max(position) FROM ledger_log`)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	retried := func(status int, path, body, key string) response {
		t.Helper()
		first := api.must(status, "POST", path, body, "Idempotency-Key", key)
		before := head()
		again := api.must(status, "POST", path, body, "Idempotency-Key", key)
		if !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" ||
			again.header.Get("X-Ledger-Position") != first.header.Get("X-Ledger-Position") || head() != before {
			t.Fatalf("%s retried on the other process: %d %v %s; first %v %s", path, again.status, again.header, again.body,
				first.header, first.body)
		}
		api.must(409, "POST", path, strings.Replace(body, "e2e", "other", 1), "Idempotency-Key", key)
		return first
	}
	retried(201, "/api/companies/"+company+"/secret-bindings",
		`{"secretId": "`+secret+`", "targetType": "agent", "targetId": "e2e", "configPath": "env.API_KEY"}`, "bind-1")
	issued := retried(201, "/api/companies/"+company+"/agent-keys", `{"targetType": "agent", "targetId": "e2e"}`, "mint-1").json(t)
	agent := tg.client(t, issued["token"].(string))
	if v := agent.must(200, "POST", "/api/runtime/resolve", "").json(t)["env"].(map[string]any)["API_KEY"]; v != "v" {
		t.Fatalf("resolved %v with the replayed token", v)
	}
	if out, err := tg.psql(t, `SELECT count(*) FROM agent_keys WHERE target_id = 'e2e'`); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("agent keys of the consumer: %q %v", out, err)
	}
	// "sla_", the prefix of every agent key token, is nowhere in the kept answers.
	if out, err := tg.psql(t, `SELECT count(*) FROM ledger_idempotent_answers
		WHERE position('\x736c615f'::bytea in sealed_answer) > 0`); err != nil || strings.TrimSpace(out) != "0" {
		t.Fatalf("kept answers holding a token in the clear: %q %v", out, err)
	}
}
