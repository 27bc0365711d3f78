package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every bench scenario runs against a fresh serve with zero errors (short runs: the
// figures themselves are in docs/performance.md), and --replay rebuilds.
func TestBenchScenariosAgainstAFreshServer(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	for _, scenario := range []string{"create", "rotate", "resolve", "mixed", "raw-insert"} {
		code, out, errOut := e.run(t, "bench", "--scenario", scenario, "--concurrency", "4", "--duration", "1s", "--warmup", "200ms", "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", scenario, code, out, errOut)
		}
		var res struct {
			Scenario      string  `json:"scenario"`
			OpsPerSec     float64 `json:"ops_per_sec"`
			P99           float64 `json:"p99_ms"`
			Errors        int     `json:"errors"`
			ProjectionLag struct {
				N int `json:"n"`
			} `json:"projection_lag"`
			Subscriber *struct {
				N int `json:"n"`
			} `json:"commit_to_subscriber"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
			t.Fatalf("%s: %q: %v", scenario, out, err)
		}
		if res.Scenario != scenario || res.OpsPerSec <= 0 || res.P99 <= 0 || res.Errors != 0 {
			t.Fatalf("%s: %+v", scenario, res)
		}
		writes := scenario == "create" || scenario == "rotate"
		if writes && (res.Subscriber == nil || res.Subscriber.N == 0) {
			t.Fatalf("%s: no commit-to-subscriber figures: %s", scenario, out)
		}
		// A resolve run acknowledges no write to time, so it follows no subscriber.
		if scenario == "resolve" && res.Subscriber != nil {
			t.Fatalf("resolve followed the NATS subscriber: %s", out)
		}
	}
	code, out, errOut := e.run(t, "bench", "--replay", "2000", "--json")
	var replay struct {
		Events       int64   `json:"events"`
		EventsPerSec float64 `json:"events_per_sec"`
		PeakRSSMB    float64 `json:"peak_rss_mb"`
	}
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &replay) != nil || replay.Events != 2000 || replay.EventsPerSec <= 0 || replay.PeakRSSMB <= 0 {
		t.Fatalf("bench --replay: %d %q %s", code, out, errOut)
	}
	// The bench tore down what it made: no live secrets remain in its companies.
	if out, err := e.psql(t, `SELECT count(*) FROM company_secrets WHERE deleted_at IS NULL`); err != nil || strings.TrimSpace(out) != "0" {
		t.Fatalf("live secrets after the bench: %q %v", out, err)
	}
}
