package main

import (
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape returns the text of a GET /metrics at base.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %v", base, resp.StatusCode, err)
	}
	return string(b)
}

// sampleValue finds the sample of name whose labels are exactly labels ("k=v,k=v",
// any order; "" for none) in a text exposition, and reports whether there is one.
func sampleValue(text, name, labels string) (float64, bool) {
	want := strings.Split(labels, ",")
	if labels == "" {
		want = nil
	}
	sort.Strings(want)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metric, rawLabels, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
		if metric != name {
			continue
		}
		var got []string
		for _, kv := range strings.Split(rawLabels, ",") {
			if kv != "" {
				got = append(got, strings.ReplaceAll(kv, `"`, ""))
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		return v, err == nil
	}
	return 0, false
}

// metricsFlow is what the scripted flow made, none of which a scrape may hold.
type metricsFlow struct {
	sid, key, plain     string
	binding, keyX, keyY map[string]any
}

// The metrics of a scripted flow: create, rotate, a stale rotation, bind, and
// resolutions that succeed and fail, scraped from LEDGER_METRICS_ADDR. The scrape has
// the expected series and none of the flow's ids, names, keys or values.
func TestMetricsAfterAScriptedFlow(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	metricsAddr := freeAddr(t)
	e.vars = []string{"LEDGER_METRICS_ADDR=" + metricsAddr}
	s := e.serve(t)
	e.waitReady(t, s)
	token := e.instanceToken(t)
	board := e.client(t, token)
	value1, value2 := canary("metrics-v1"), canary("metrics-v2")
	name := canary("metrics-name")

	fl := metricsScriptedFlowStep(t, e, board, name, value1, value2)
	sid, key, plain, binding, keyX, keyY := fl.sid, fl.key, fl.plain, fl.binding, fl.keyX, fl.keyY

	base := "http://" + metricsAddr
	text := metricsScrapeOnceRelayCaughtUpStep(t, base)
	metricsExpectedSeriesStep(t, text)
	secretsInFlow := []string{sid, name, key, value1, value2, plain, token, binding["id"].(string), keyX["id"].(string),
		keyX["token"].(string), keyY["token"].(string), companyA, "metrics-agent", "metrics-other", "metrics-run"}
	for _, v := range secretsInFlow {
		if strings.Contains(text, v) {
			t.Errorf("the scrape holds %q", v)
		}
	}

	// With its own listener, the API's does not serve /metrics.
	board.must(404, "GET", "/metrics", "")
	// One request line per request, never a token or a value.
	requests := 0
	for _, l := range logLines(t, s.stderr.String()) {
		if l["msg"] == "request" {
			requests++
		}
	}
	if requests < 13 {
		t.Errorf("%d request lines in the log, want one per API request", requests)
	}
	s.stop(t)
	for _, v := range []string{token, keyX["token"].(string), keyY["token"].(string), value1, value2, plain} {
		if strings.Contains(s.stderr.String(), v) {
			t.Errorf("the server log holds %q", v)
		}
	}
}

// metricsScriptedFlowStep: create, a create refused for its reused idempotency key,
// rotate, a stale rotation, bind, an env, and resolutions that succeed and fail.
func metricsScriptedFlowStep(t *testing.T, e *instanceEnv, board *apiClient, name, value1, value2 string) metricsFlow {
	t.Helper()
	sec := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "`+name+`", "value": "`+value1+`"}`,
		"Idempotency-Key", "metrics-create").json(t)
	sid, key := sec["id"].(string), sec["key"].(string)
	// The same key for another request: refused by the event store (from the first
	// request's kept answer, before the command runs).
	board.must(409, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "`+name+`-2", "value": "`+value1+`"}`,
		"Idempotency-Key", "metrics-create")
	board.must(200, "POST", "/api/secrets/"+sid+"/rotate", `{"value": "`+value2+`"}`)
	// A stale expected version: refused by the command, before the event store.
	board.must(409, "POST", "/api/secrets/"+sid+"/rotate", `{"value": "`+value2+`", "expectedLatestVersion": 1}`)
	binding := board.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "metrics-agent", "configPath": "env.API_KEY", "versionSelector": "latest"}`).json(t)
	plain := canary("metrics-plain")
	board.must(200, "PUT", "/api/companies/"+companyA+"/consumers/agent/metrics-agent/env",
		`{"env": {"LOG_LEVEL": {"type": "plain", "value": "`+plain+`"}, "API_KEY": {"type": "secret_ref", "secretId": "`+sid+`", "version": "latest"}}}`)
	keyX := board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "metrics-agent"}`).json(t)
	keyY := board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "metrics-other"}`).json(t)
	agentX, agentY := e.client(t, keyX["token"].(string)), e.client(t, keyY["token"].(string))
	agentX.must(200, "POST", "/api/runtime/resolve", `{"runId": "metrics-run"}`)
	agentY.must(422, "POST", "/api/runtime/resolve", `{"configPaths": ["env.API_KEY"]}`)
	board.must(200, "DELETE", "/api/secrets/"+sid, "")
	agentX.must(422, "POST", "/api/runtime/resolve", `{"configPaths": ["env.API_KEY"]}`)

	return metricsFlow{sid: sid, key: key, plain: plain, binding: binding, keyX: keyX, keyY: keyY}
}

// metricsScrapeOnceRelayCaughtUpStep scrapes base once the relay leads and has caught up.
func metricsScrapeOnceRelayCaughtUpStep(t *testing.T, base string) string {
	t.Helper()
	// The relay's gauges follow its own loop: poll until it leads and has caught up.
	var text string
	deadline := time.Now().Add(15 * time.Second)
	for {
		text = scrape(t, base)
		leader, _ := sampleValue(text, "secretsledger_relay_leader", "")
		lag, _ := sampleValue(text, "secretsledger_relay_lag_events", "")
		if leader == 1 && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay did not lead and catch up:\n%s", text)
		}
		time.Sleep(100 * time.Millisecond) // polling the relay's own loop through a scrape
	}
	return text
}

// metricsExpectedSeriesStep: the scrape has the expected series, the event store's
// batches and the Go runtime's and process's collectors.
func metricsExpectedSeriesStep(t *testing.T, text string) {
	t.Helper()
	exactly := map[string]float64{
		`secretsledger_resolutions_total{outcome=resolved,source=secret}`:        1,
		`secretsledger_resolutions_total{outcome=resolved,source=inline}`:        1,
		`secretsledger_resolutions_total{outcome=binding_missing,source=secret}`: 1,
		`secretsledger_resolutions_total{outcome=secret_deleted,source=secret}`:  1,
		`secretsledger_resolutions_total{outcome=provider_error,source=secret}`:  0,
		// create and rotate are staged in their appends (the create refused for its reused
		// key is refused from the kept answer, before the provider); the plain env value is
		// written on its own
		`secretsledger_provider_calls_total{provider=local_encrypted,operation=stage,outcome=ok}`:                                  2,
		`secretsledger_provider_calls_total{provider=local_encrypted,operation=put,outcome=ok}`:                                    1,
		`secretsledger_provider_calls_total{provider=local_encrypted,operation=discard,outcome=ok}`:                                0,
		`secretsledger_provider_calls_total{provider=local_encrypted,operation=resolve_many,outcome=ok}`:                           1,
		`secretsledger_provider_calls_total{provider=local_encrypted,operation=resolve_many,outcome=error}`:                        0,
		`secretsledger_provider_call_duration_seconds_count{provider=local_encrypted,operation=put}`:                               1,
		`secretsledger_eventstore_append_conflicts_total{kind=version}`:                                                            0,
		`secretsledger_eventstore_append_conflicts_total{kind=idempotency}`:                                                        1,
		`secretsledger_http_request_duration_seconds_count{route=/api/companies/{companyId}/secrets,method=POST,code=201}`:         1,
		`secretsledger_http_request_duration_seconds_count{route=/api/companies/{companyId}/secrets,method=POST,code=409}`:         1,
		`secretsledger_http_request_duration_seconds_count{route=/api/secrets/{id}/rotate,method=POST,code=200}`:                   1,
		`secretsledger_http_request_duration_seconds_count{route=/api/secrets/{id}/rotate,method=POST,code=409}`:                   1,
		`secretsledger_http_request_duration_seconds_count{route=/api/runtime/resolve,method=POST,code=200}`:                       1,
		`secretsledger_http_request_duration_seconds_count{route=/api/runtime/resolve,method=POST,code=422}`:                       2,
		`secretsledger_http_request_duration_seconds_count{route=/api/companies/{companyId}/secret-bindings,method=POST,code=201}`: 1,
		`secretsledger_nats_connected`:   1,
		`secretsledger_relay_lag_events`: 0,
	}
	for series, want := range exactly {
		name, labels, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
		got, ok := sampleValue(text, name, labels)
		if !ok || got != want {
			t.Errorf("%s = %v (present: %v), want %v", series, got, ok, want)
		}
	}
	for _, series := range []string{"secretsledger_eventstore_append_batch_events_count", "secretsledger_eventstore_append_batch_duration_seconds_count"} {
		if n, ok := sampleValue(text, series, ""); !ok || n < 8 {
			t.Errorf("%s = %v, want at least the flow's appends", series, n)
		}
	}
	for _, runtime := range []string{"go_goroutines", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if _, ok := sampleValue(text, runtime, ""); !ok {
			t.Errorf("no %s: the Go runtime and process collectors are missing", runtime)
		}
	}
}

// A metrics address that is taken stops the start with exit 2, before a database is
// created.
func TestMetricsAddressInUseIsAConfigurationError(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e.vars = []string{"LEDGER_METRICS_ADDR=" + taken.Addr().String()}
	code, errOut := e.serveRefused(t, 30*time.Second)
	if code != 2 || !strings.Contains(errOut, "LEDGER_METRICS_ADDR") || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("exit %d, want 2 naming LEDGER_METRICS_ADDR\n%s", code, errOut)
	}
}
