package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

func get(t *testing.T, h http.Handler, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: body %q is not JSON: %v", path, rec.Body.String(), err)
	}
	return rec.Code, body
}

func TestReadyzReportsEachCheck(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ok := Check{Name: "database", Run: func(context.Context) (string, error) { return "reachable", nil }}
	bad := Check{Name: "migrations", Run: func(context.Context) (string, error) {
		return "", ledgererr.Wrap(errors.New("pq: secret detail"), ledgererr.Unavailable, "1 pending migration")
	}}

	code, body := get(t, NewRouter(Deps{Log: log, Checks: []Check{ok}}), "/readyz")
	if code != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("all ok: %d %v", code, body)
	}
	code, body = get(t, NewRouter(Deps{Log: log, Checks: []Check{ok, bad}}), "/readyz")
	checks := body["checks"].(map[string]any)
	mig := checks["migrations"].(map[string]any)
	if code != http.StatusServiceUnavailable || body["status"] != "unavailable" || mig["ok"] != false || mig["detail"] != "1 pending migration" {
		t.Fatalf("one failing: %d %v", code, body)
	}
	if _, listed := body["roles"]; listed {
		t.Fatalf("roles without a Roles source: %v", body)
	}
	roles := func() []string { return []string{"checkpoint-signer", "relay"} }
	code, body = get(t, NewRouter(Deps{Log: log, Checks: []Check{ok}, Roles: roles}), "/readyz")
	if got, _ := body["roles"].([]any); code != http.StatusOK || len(got) != 2 || got[0] != "checkpoint-signer" || got[1] != "relay" {
		t.Fatalf("roles: %d %v", code, body)
	}
	if code, _ := get(t, NewRouter(Deps{Log: log, Checks: []Check{bad}}), "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz must not depend on checks: %d", code)
	}
}

func TestUnknownRouteIsAJSONError(t *testing.T) {
	code, body := get(t, NewRouter(Deps{Log: slog.New(slog.DiscardHandler)}), "/nope")
	if code != http.StatusNotFound || body["details"].(map[string]any)["code"] != "ENOTFOUND" {
		t.Fatalf("%d %v", code, body)
	}
}
