package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secrets rekey rewraps every data key while the server is stopped; the server then
// starts with the new key file and the log still verifies.
func TestRekeyAndProvidersEndpoints(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "k", "value": "v"}`).json(t)["id"].(string)

	providers := api.must(200, "GET", "/api/companies/"+companyA+"/secret-providers", "").list(t)
	if len(providers) != 3 || providers[0]["id"] != "local_encrypted" || providers[0]["supportsManagedValues"] != true ||
		providers[0]["status"] != "ready" || providers[1]["status"] != "coming_soon" || providers[2]["status"] != "coming_soon" {
		t.Fatalf("providers = %v", providers)
	}
	health := api.must(200, "GET", "/api/companies/"+companyA+"/secret-providers/health", "").list(t)
	if len(health) != 1 || health[0]["ok"] != true {
		t.Fatalf("health = %v", health)
	}
	api.must(400, "GET", "/api/companies/nope/secret-providers", "")

	if code, _, errOut := e.run(t, "secrets", "rekey"); code != 2 || !strings.Contains(errOut, "stop it first") {
		t.Fatalf("rekey with the server running: %d %s", code, errOut)
	}
	s.stop(t)
	keyFile := filepath.Join(e.home, "instances", "default", "secrets", "master.key")
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.run(t, "secrets", "rekey")
	if code != 0 || !strings.Contains(out, "rewrapped 1 data keys") {
		t.Fatalf("rekey: %d %s %s", code, out, errOut)
	}
	newKey, _ := os.ReadFile(keyFile)
	if string(newKey) == string(oldKey) {
		t.Fatal("the key file did not change")
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file mode: %v %v", fi, err)
	}
	olds, _ := filepath.Glob(keyFile + ".*.old")
	if len(olds) != 1 {
		t.Fatalf("old key not kept: %v", olds)
	}
	if code, out, _ := e.run(t, "verify"); code != 0 || !strings.Contains(out, "ok: 1 events") {
		t.Fatalf("verify after rekey: %s", out)
	}
	s = e.serve(t)
	e.waitReady(t, s)
	api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "v2"}`) // the new key wraps new versions
	s.stop(t)
}
