package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The audit verbs through the real binary and server: exposure, consumer, state, an
// export saved to a file and verified offline, and the same file tampered with.
func TestAuditCLI(t *testing.T) {
	t.Parallel()
	auditCLI(t, onOneProcess(t))
}

// auditCLI runs the audit verbs: exposure, consumer, state, an export saved to a file
// and verified offline, and the same file tampered with.
func auditCLI(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	value := canary("audit")
	run := auditRunner(t, tg, value)
	var created map[string]any
	if err := json.Unmarshal([]byte(run("secrets", "create", "-C", companyA, "--name", "audited", "--value-env", "V")), &created); err != nil {
		t.Fatal(err)
	}
	id := created["id"].(string)
	run("bindings", "create", "-C", companyA, "--secret", id, "--target-type", "agent", "--target-id", "worker", "--config-path", "env.DB")
	run("agent-keys", "issue", "-C", companyA, "--target-type", "agent", "--target-id", "worker")
	tg.client(t, tg.token).must(201, "POST", "/api/companies/"+companyA+"/event-subscribers", `{"label": "follower"}`)

	auditExposureAndConsumerStep(t, run, companyA, id)
	auditStateStep(t, tg, run, companyA)
	auditExportStep(t, tg, run, companyA)
	for _, args := range [][]string{{"audit", "exposure", "--secret", id, "-o", "json"}, {"audit", "export", "-C", companyA}} {
		if strings.Contains(run(args...), value) {
			t.Fatalf("%v printed the value", args)
		}
	}
}

// auditRunner gives run, which runs a CLI verb with the value in V; it must succeed.
func auditRunner(t *testing.T, tg *apiTarget, value string) func(args ...string) string {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := tg.runWith(t, []string{"V=" + value}, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	return run
}

// auditExposureAndConsumerStep: the secret's exposure (JSON and table) and the
// consumer's view.
func auditExposureAndConsumerStep(t *testing.T, run func(args ...string) string, companyA, id string) {
	t.Helper()
	var exp struct {
		Position  int64
		Consumers []struct {
			TargetID  string `json:"targetId"`
			AgentKeys []any  `json:"agentKeys"`
		}
	}
	if err := json.Unmarshal([]byte(run("audit", "exposure", "--secret", id, "-o", "json")), &exp); err != nil ||
		len(exp.Consumers) != 1 || exp.Consumers[0].TargetID != "worker" || len(exp.Consumers[0].AgentKeys) != 1 || exp.Position < 3 {
		t.Fatalf("exposure: %+v %v", exp, err)
	}
	if out := run("audit", "exposure", "--secret", id, "-o", "table"); !strings.Contains(out, "agent/worker") ||
		!strings.Contains(out, "computed at log position") {
		t.Fatalf("exposure table:\n%s", out)
	}
	if out := run("audit", "consumer", "-C", companyA, "--target-type", "agent", "--target-id", "worker", "-o", "json"); !strings.Contains(out, id) {
		t.Fatalf("consumer: %s", out)
	}
}

// auditStateStep: as of the secret's creation, the company's first event: the secret,
// no binding yet; a state needs --at or --position.
func auditStateStep(t *testing.T, tg *apiTarget, run func(args ...string) string, companyA string) {
	t.Helper()
	events := tg.client(t, tg.token).must(200, "GET", "/api/companies/"+companyA+"/events?after=0", "").list(t)
	if len(events) == 0 || events[0]["type"] != "secret.created" {
		t.Fatalf("the company's events: %v", events)
	}
	first := fmt.Sprint(int64(events[0]["position"].(float64)))
	var st struct {
		Secrets  []any
		Bindings []any
	}
	if err := json.Unmarshal([]byte(run("audit", "state", "-C", companyA, "--position", first, "-o", "json")), &st); err != nil ||
		len(st.Secrets) != 1 || len(st.Bindings) != 0 {
		t.Fatalf("state at position %s: %+v %v", first, st, err)
	}
	if code, _, _ := tg.run(t, "audit", "state", "-C", companyA); code != 2 {
		t.Fatalf("state without --at or --position: exit %d, want 2", code)
	}
}

// auditExportStep: an export saved to a file verifies offline and holds no credential
// hash; an edited redacted event and a tampered one break it; CSV too.
func auditExportStep(t *testing.T, tg *apiTarget, run func(args ...string) string, companyA string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(file, []byte(run("audit", "export", "-C", companyA)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run("verify", "--export", file)
	if !strings.Contains(out, "every hash recomputed") || !strings.Contains(out, "2 events were exported without their credential hashes") {
		t.Fatalf("verify --export:\n%s", out)
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), "tokenHash") || strings.Contains(string(raw), "passwordHash") || !strings.Contains(string(raw), "agent_key.issued") {
		t.Fatalf("the export holds credential hashes (or no agent key):\n%s", raw)
	}
	// The redacted agent key's event, edited: its attestation no longer matches.
	edited := filepath.Join(t.TempDir(), "edited.jsonl")
	keyLine := regexp.MustCompile(`(?m)^.*"type":"agent_key.issued".*$`).FindString(string(raw))
	if err := os.WriteFile(edited, []byte(strings.Replace(string(raw), keyLine, strings.Replace(keyLine, "worker", "intern", 1), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := tg.run(t, "verify", "--export", edited); code != 1 || !strings.Contains(out, "attestation") {
		t.Fatalf("an edited redacted event: exit %d\n%s", code, out)
	}
	if csv := run("audit", "export", "-C", companyA, "--format", "csv"); !strings.HasPrefix(csv, "position,recordedAt,type") ||
		!strings.Contains(csv, "secret.created") {
		t.Fatalf("csv export:\n%s", csv)
	}
	tampered := strings.Replace(string(raw), `\"name\": \"audited\"`, `\"name\": \"innocent\"`, 1)
	if tampered == string(raw) {
		t.Fatalf("the export does not hold the name as expected:\n%s", raw)
	}
	if err := os.WriteFile(file, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := tg.run(t, "verify", "--export", file)
	if code != 1 || !strings.Contains(out, "BROKEN at position") {
		t.Fatalf("tampered export: exit %d\n%s", code, out)
	}
}
