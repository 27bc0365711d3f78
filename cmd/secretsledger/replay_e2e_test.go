package main

import (
	"fmt"
	"strings"
	"testing"
)

// replay runs beside a serving instance: it succeeds, reports how long appends were
// blocked, creations through the API go on meanwhile and are all in the read models
// after it, and a replay of the now quiet log leaves them exactly as they are.
func TestReplayWhileServing(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	for i := range 5 {
		api.must(201, "POST", "/api/companies/"+companyA+"/secrets", fmt.Sprintf(`{"name": "before %d", "value": "v%d"}`, i, i))
	}
	created := make(chan error, 1)
	go func() {
		for i := range 20 {
			r, err := api.try("POST", "/api/companies/"+companyA+"/secrets", fmt.Sprintf(`{"name": "during %d", "value": "w%d"}`, i, i))
			if err == nil && r.status != 201 {
				err = fmt.Errorf("status %d: %s", r.status, r.body)
			}
			if err != nil {
				created <- err
				return
			}
		}
		created <- nil
	}()
	code, out, errOut := e.run(t, "replay")
	if code != 0 || !strings.HasPrefix(out, "rebuilt the read models from ") || !strings.Contains(out, "appends were blocked") {
		t.Fatalf("replay while serving: %d %q %s", code, out, errOut)
	}
	if err := <-created; err != nil {
		t.Fatalf("create during replay: %v", err)
	}
	if n := e.psqlInt(t, `SELECT count(*) FROM company_secrets`); n != 25 {
		t.Fatalf("%d secrets in the read model after the replay, want 25", n)
	}
	if n := e.psqlInt(t, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'ledger_rebuild%'`); n != 0 {
		t.Fatalf("the replay left %d schemas behind", n)
	}
	const snapshot = `SELECT (SELECT json_agg(s ORDER BY id) FROM company_secrets s)::text || (SELECT json_agg(v ORDER BY secret_id, version) FROM company_secret_versions v)::text`
	before, err := e.psql(t, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := e.run(t, "replay"); code != 0 || !strings.Contains(out, "rebuilt the read models from 25 events") {
		t.Fatalf("second replay: %d %q %s", code, out, errOut)
	}
	if after, err := e.psql(t, snapshot); err != nil || after != before {
		t.Fatalf("a replay of a quiet log changed the read models (%v):\nbefore %s\nafter  %s", err, before, after)
	}
	// The server still serves and appends into the swapped-in tables.
	api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "after", "value": "x"}`)
	if l := api.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").list(t); len(l) != 26 {
		t.Fatalf("%d secrets listed after the replays, want 26", len(l))
	}
}
