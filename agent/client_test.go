package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/providers/redact"
)

const testKey = "sla_01TEST.secret-part"

// Each call sends the key as its bearer credential and its body as JSON, and decodes
// the answer; an error answer keeps the server's status, code and message, not the key.
func TestClientCallsAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "unauthorized", "details": {"code": "EUNAUTHORIZED"}}`))
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == PathResolve && body["runId"] == "run-1":
			_, _ = w.Write([]byte(`{"env": {"A": "a-value-long"}, "values": {"env.A": "a-value-long"},
				"manifest": [{"configPath": "env.A", "envKey": "A", "secretKey": "a-key", "version": 3, "outcome": "resolved", "required": true}]}`))
		case r.Method == http.MethodPost && r.URL.Path == PathRedact && body["text"] == "x":
			_, _ = w.Write([]byte(`{"text": "y", "masked": ["a-key"], "skipped": []}`))
		case r.Method == http.MethodGet && r.URL.Path == PathChanges && r.URL.Query().Get("after") == "" && r.URL.Query().Get("wait") == "":
			_, _ = w.Write([]byte(`{"position": 42, "changes": []}`))
		case r.URL.Path == "/proxy":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error": "resolution failed: env.X: binding_missing", "details": {"code": "EINVALID"}}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := New(srv.URL+"/", testKey, nil)
	res, err := c.Resolve(ctx, ResolveRequest{RunID: "run-1"})
	if err != nil || res.Env["A"] != "a-value-long" || len(res.Manifest) != 1 || res.Manifest[0].Version != 3 {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	if red, err := c.Redact(ctx, RedactRequest{Text: "x"}); err != nil || red.Text != "y" || red.Masked[0] != "a-key" {
		t.Fatalf("redact: %+v %v", red, err)
	}
	if head, err := c.Head(ctx); err != nil || head != 42 {
		t.Fatalf("head: %d %v", head, err)
	}
	_, err = c.Resolve(ctx, ResolveRequest{})
	var e *Error
	if !errors.As(err, &e) || e.Status != 422 || e.Code != "EINVALID" || !strings.Contains(err.Error(), "env.X: binding_missing") || Refused(err) {
		t.Fatalf("422: %v", err)
	}
	_, err = New(srv.URL, "sla_wrong.key", nil).Resolve(ctx, ResolveRequest{})
	if !Refused(err) || strings.Contains(err.Error(), "sla_wrong") {
		t.Fatalf("401: %v", err)
	}
	err = c.call(ctx, http.MethodGet, "/proxy", nil, nil, &struct{}{})
	if !errors.As(err, &e) || e.Status != 502 || e.Message != "Bad Gateway" {
		t.Fatalf("a proxy's answer: %v", err)
	}
}

func TestSecretsAndRedactor(t *testing.T) {
	res := Resolution{
		Env:    map[string]string{"A": "a-value-long", "PLAIN": "plain-value", "PIN": "1234"},
		Values: map[string]string{"env.A": "a-value-long", "env.PLAIN": "plain-value", "env.PIN": "1234", "cfg.other": "other-value"},
		Manifest: []ManifestEntry{
			{ConfigPath: "env.A", EnvKey: "A", SecretKey: "a-key", Outcome: OutcomeResolved},
			{ConfigPath: "env.PLAIN", EnvKey: "PLAIN", Source: "inline", Outcome: OutcomeResolved},
			{ConfigPath: "env.PIN", EnvKey: "PIN", SecretKey: "pin", Outcome: OutcomeResolved},
			{ConfigPath: "cfg.other", SecretKey: "other", Outcome: OutcomeResolved},
			{ConfigPath: "env.GONE", EnvKey: "GONE", SecretKey: "gone", Outcome: "secret_deleted"},
		},
	}
	var keys []string
	for _, s := range Secrets(res) {
		keys = append(keys, s.MaskKey())
	}
	if strings.Join(keys, ",") != "other,a-key,pin,PLAIN" {
		t.Fatalf("secrets by config path: %v", keys)
	}
	r := Redactor(res, redact.Options{})
	got := r.String("a=a-value-long p=plain-value o=other-value pin=1234")
	if got != "a=[REDACTED:a-key] p=[REDACTED:PLAIN] o=[REDACTED:other] pin=1234" {
		t.Fatalf("redacted: %q", got)
	}
	if s := r.Skipped(); len(s) != 1 || s[0] != "pin" {
		t.Fatalf("skipped: %v", s)
	}
}
