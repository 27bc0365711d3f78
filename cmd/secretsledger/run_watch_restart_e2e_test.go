package main

import (
	"strconv"
	"testing"
)

// feed is the agent's long poll from after (wait seconds), its answer decoded.
func feed(t *testing.T, agent *apiClient, after int64, wait int) feedAnswer {
	t.Helper()
	return decodeFeed(t, agent.must(200, "GET", "/api/runtime/changes?after="+strconv.FormatInt(after, 10)+"&wait="+strconv.Itoa(wait), ""))
}

// feedThrough follows the agent's feed from after until its position reaches through,
// and returns the changes of every answer in order, with the last answer's position.
// The feed shows what the sealer has chained, so writes acknowledged one after the
// other may come in more than one answer.
func feedThrough(t *testing.T, agent *apiClient, after, through int64) feedAnswer {
	t.Helper()
	var all feedAnswer
	all.Position = after
	for all.Position < through {
		got := feed(t, agent, all.Position, 30)
		if got.Position <= all.Position && len(got.Changes) == 0 {
			t.Fatalf("the feed from %d did not reach %d within its wait: %+v", all.Position, through, got)
		}
		all.Changes = append(all.Changes, got.Changes...)
		all.Position = got.Position
	}
	return all
}

// ledgerPosition is the log position a write answered with (X-Ledger-Position).
func ledgerPosition(t *testing.T, r response) int64 {
	t.Helper()
	p, err := strconv.ParseInt(r.header.Get("X-Ledger-Position"), 10, 64)
	if err != nil || p <= 0 {
		t.Fatalf("X-Ledger-Position %q", r.header.Get("X-Ledger-Position"))
	}
	return p
}

// TestChangeFeedAcrossServeRestart: the feed reads the log, so a client resumes from the
// position it holds across a restart of serve (SIGTERM, started again on the same
// database) with nothing missed and nothing shown twice, and `run --watch` keeps
// following: its child is restarted with a value rotated after serve came back.
func TestChangeFeedAcrossServeRestart(t *testing.T) {
	f := newRunFixture(t)
	e, s := f.tg.procs[0], f.tg.servers[0]
	board, agent := f.tg.client(t, f.tg.token), f.tg.client(t, f.keyX)
	w := startWatch(t, e, f.keyX)
	w.child(t, f.value)
	rotate := func(value string) int64 {
		t.Helper()
		return ledgerPosition(t, board.must(200, "POST", "/api/secrets/"+f.secretID+"/rotate", `{"value": "`+value+`"}`))
	}

	// The client's position P covers a rotation it has seen.
	head := decodeFeed(t, agent.must(200, "GET", "/api/runtime/changes", "")).Position
	seenValue := canary("seen")
	seen := rotate(seenValue)
	got := feed(t, agent, head, 30)
	if len(got.Changes) != 1 || got.Changes[0].Position != seen || got.Position < seen {
		t.Fatalf("the first rotation (at %d) on the feed: %+v", seen, got)
	}
	p := got.Position
	w.child(t, seenValue)

	s.stop(t)
	restarted := e.serve(t)
	e.waitReady(t, restarted)

	firstValue, secondValue := canary("after-restart-1"), canary("after-restart-2")
	first, second := rotate(firstValue), rotate(secondValue)
	got = feedThrough(t, agent, p, second)
	if len(got.Changes) != 2 || got.Changes[0].Position != first || got.Changes[1].Position != second ||
		got.Changes[0].SecretID != f.secretID || got.Changes[1].SecretID != f.secretID || got.Position < second {
		t.Fatalf("from P=%d after the restart: %+v, want the rotations at %d and %d only", p, got, first, second)
	}
	if again := feed(t, agent, got.Position, 1); len(again.Changes) != 0 {
		t.Fatalf("from the answer's position the changes came again: %+v", again)
	}
	// run --watch retried through the restart and resolved again after it.
	w.child(t, secondValue)
}

// feedLeavesOthersEvents: beyond rotations (feedIsTheConsumers), the events of another
// consumer of the same company (a binding, a key issued and revoked, a freeze) and of
// another company (a freeze) are not on agent-x's feed, while a binding of agent-x's own
// is.
func feedLeavesOthersEvents(t *testing.T, f *runFixture) {
	board, agent := f.tg.client(t, f.tg.token), f.tg.client(t, f.keyX)
	_, otherCompany := f.tg.companies()
	head := decodeFeed(t, agent.must(200, "GET", "/api/runtime/changes", "")).Position
	secret := board.must(201, "POST", "/api/companies/"+f.company+"/secrets", `{"name": "ISOLATION", "value": "`+canary("iso")+`"}`).json(t)["id"].(string)
	bind := func(target, path string) int64 {
		return ledgerPosition(t, board.must(201, "POST", "/api/companies/"+f.company+"/secret-bindings", `{"secretId": "`+secret+
			`", "targetType": "agent", "targetId": "`+target+`", "configPath": "`+path+`"}`))
	}
	bind("agent-z", "env.ISOLATION")
	zKey := board.must(201, "POST", "/api/companies/"+f.company+"/agent-keys", `{"targetType": "agent", "targetId": "agent-z"}`).json(t)["id"].(string)
	board.must(200, "DELETE", "/api/agent-keys/"+zKey, "")
	board.must(200, "POST", "/api/companies/"+f.company+"/consumers/agent/agent-z/freeze", `{"reason": "isolation test"}`)
	last := ledgerPosition(t, board.must(200, "POST", "/api/companies/"+otherCompany+"/freeze", `{"reason": "isolation test"}`))
	none := feed(t, agent, head, 1)
	if len(none.Changes) != 0 || none.Position < last {
		t.Fatalf("agent-x's feed up to %d (the last event at %d) shows others' events: %+v", none.Position, last, none)
	}
	own := bind("agent-x", "env.ISOLATION")
	got := feed(t, agent, none.Position, 30)
	if len(got.Changes) != 1 || got.Changes[0].Position != own || got.Changes[0].StreamKind != "consumer" {
		t.Fatalf("agent-x's own binding (at %d) on its feed: %+v", own, got)
	}
}
