package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/providers"
)

// Values no other test uses, so that finding one anywhere is this test's leak.
const (
	redactCanary = "canary-x-4f1e9c2d7b3a"
	otherCanary  = "canary-y-8d2b6a1f0c5e"
)

// bindSecret creates a secret holding value, with key, and binds it to agent/targetID at
// path.
func (s *stack) bindSecret(key, value, targetID, path string) {
	s.t.Helper()
	ctx := context.Background()
	v := providers.NewValue([]byte(value))
	sec, err := s.commands.Secrets.Create(ctx, boardReq, commands.CreateSecret{CompanyID: companyA, Name: key, Key: key, Value: &v})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.commands.Consumers.Bind(ctx, boardReq, commands.CreateBinding{Consumer: commands.Consumer{CompanyID: companyA,
		TargetType: "agent", TargetID: targetID}, SecretID: sec.SecretID, ConfigPath: path}); err != nil {
		s.t.Fatal(err)
	}
}

// redactStack binds, to agent/x (whose key s.agent is), a canary and a value too short to
// mask, and to agent/y another canary.
func redactStack(t *testing.T) *stack {
	s := newStack(t)
	s.bindSecret("CANARY_X", redactCanary, "x", "env.CANARY_X")
	s.bindSecret("SHORT_X", "short", "x", "env.SHORT_X")
	s.bindSecret("CANARY_Y", otherCanary, "y", "env.CANARY_Y")
	return s
}

func redactRequest(t *testing.T, body any) *http.Request {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return newRequest(http.MethodPost, "/api/runtime/redact", string(raw))
}

func TestRedactMasksOnlyTheConsumersValues(t *testing.T) {
	t.Parallel()
	s := redactStack(t)
	b64 := base64.StdEncoding.EncodeToString([]byte(redactCanary))
	text := "token=" + redactCanary + "\nbasic " + b64 + "\nneighbour " + otherCanary + "\n"
	rec := s.do(redactRequest(t, map[string]string{"text": text, "runId": "run-7"}), s.agent)
	wantStatus(t, rec, 200, "redact")
	var out struct {
		Text    string
		Masked  []string
		Skipped []string
	}
	decodeJSON(t, rec, &out)
	keyX, keyY, short := commands.NormalizeKey("CANARY_X"), commands.NormalizeKey("CANARY_Y"), commands.NormalizeKey("SHORT_X")
	want := "token=[REDACTED:" + keyX + "]\nbasic [REDACTED:" + keyX + "]\nneighbour " + otherCanary + "\n"
	if out.Text != want {
		t.Fatalf("masked text %q, want %q", out.Text, want)
	}
	if !slices.Equal(out.Masked, []string{keyX}) || !slices.Equal(out.Skipped, []string{short}) {
		t.Fatalf("masked %v, skipped %v", out.Masked, out.Skipped)
	}
	// Nothing of agent/y is told: its value stays as sent, its key is not named.
	if strings.Contains(rec.Body.String(), keyY) || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("answer %s %v", rec.Body, rec.Header())
	}

	// The access is recorded, marked as a redaction's, and holds no value.
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_log
		WHERE event_type = 'secret.accessed' AND payload->>'runId' = 'redact:run-7' AND payload->>'outcome' = 'resolved'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d resolved access records of the redaction, want 2 (CANARY_X, SHORT_X)", n)
	}
	for _, v := range []string{redactCanary, b64, otherCanary, "short\""} {
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_log
			WHERE strpos(payload::text, $1) > 0 OR strpos(metadata::text, $1) > 0`, v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d ledger events hold a value", n)
		}
	}
}

func TestRedactRefusals(t *testing.T) {
	t.Parallel()
	s := redactStack(t)
	text := "token=" + redactCanary
	head := s.head()
	for name, c := range map[string]struct {
		token  string
		body   any
		status int
	}{
		"board token":   {s.board, map[string]string{"text": text}, 403},
		"no text":       {s.agent, map[string]string{"runId": "r"}, 400},
		"unknown field": {s.agent, map[string]string{"text": text, "value": "x"}, 400},
		"long runId":    {s.agent, map[string]string{"text": text, "runId": strings.Repeat("r", 194)}, 400},
		"oversize text": {s.agent, map[string]string{"text": strings.Repeat("a", MaxRedactText+1)}, 413},
	} {
		rec := s.do(redactRequest(t, c.body), c.token)
		wantStatus(t, rec, c.status, name)
		if strings.Contains(rec.Body.String(), redactCanary) || s.head() != head {
			t.Fatalf("%s: answer %s, head %d → %d", name, rec.Body, head, s.head())
		}
	}
	// At the limit it is served.
	wantStatus(t, s.do(redactRequest(t, map[string]string{"text": strings.Repeat("a", MaxRedactText)}), s.agent), 200, "text at the limit")

	// A frozen consumer's values are not released, so its text is refused, not answered
	// unmasked; the refusal is recorded as a resolution's.
	wantStatus(t, s.do(newRequest(http.MethodPost, "/api/companies/"+companyA+"/consumers/agent/x/freeze", `{"reason": "x"}`), s.board),
		200, "freeze agent/x")
	head = s.head()
	rec := s.do(redactRequest(t, map[string]string{"text": text}), s.agent)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "consumer_frozen") || strings.Contains(rec.Body.String(), redactCanary) {
		t.Fatalf("redact for a frozen consumer: %d %s", rec.Code, rec.Body)
	}
	if s.head() == head {
		t.Fatal("the refused redaction was not recorded")
	}
}
