package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

// vaultMount is the fake's KV v2 mount the vault tests use (the default of
// PAPERCLIP_SECRETS_VAULT_KV_MOUNT).
const vaultMount = "secret"

// vaultTest is an instance whose deployment default is vault, served by the in-process
// fake through the real client library, and the token it logs in with.
type vaultTest struct {
	e     *instanceEnv
	fake  *vaultfake.Fake
	token string
}

// vaultInstance starts the fake and configures an instance whose default provider is
// vault (token method through VAULT_TOKEN_FILE, 0600), approving external references
// under secret/apps/ and secret/team/ for every company.
func vaultInstance(t *testing.T) *vaultTest {
	t.Helper()
	fake := vaultfake.New(t)
	e := newInstance(t)
	token := fake.RootToken()
	file := filepath.Join(t.TempDir(), "vault-token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars = []string{
		"PAPERCLIP_SECRETS_PROVIDER=vault",
		"PAPERCLIP_SECRETS_VAULT_ADDR=" + fake.URL(),
		"PAPERCLIP_SECRETS_VAULT_AUTH_METHOD=token",
		"PAPERCLIP_SECRETS_VAULT_DEPLOYMENT_ID=e2e-dep",
		"VAULT_TOKEN_FILE=" + file,
		"LEDGER_VAULT_EXTERNAL_PREFIXES=" + vaultMount + "/apps/," + vaultMount + "/team/",
	}
	return &vaultTest{e: e, fake: fake, token: token}
}

// managedPath is the path inside the mount of a managed secret of the deployment.
func vaultManagedPath(company, key string) string {
	return "paperclip/e2e-dep/" + company + "/" + key
}

// secretAt is the fake's secret at path in the test mount; it fails the test when
// there is none.
func (v *vaultTest) secretAt(t *testing.T, path string) vaultfake.SecretState {
	t.Helper()
	s, ok := v.fake.Secret("", vaultMount, path)
	if !ok {
		t.Fatalf("the fake has no secret at %s", path)
	}
	return s
}

// agentFor binds secret id to a new agent at each config path (a version per path, 0:
// the latest) and returns the agent's client.
func agentFor(t *testing.T, e *instanceEnv, api *apiClient, agent, id string, paths map[string]int) *apiClient {
	t.Helper()
	for path, version := range paths {
		body := fmt.Sprintf(`{"secretId": %q, "targetType": "agent", "targetId": %q, "configPath": %q}`, id, agent, path)
		if version > 0 {
			body = fmt.Sprintf(`{"secretId": %q, "targetType": "agent", "targetId": %q, "configPath": %q, "versionSelector": %d}`,
				id, agent, path, version)
		}
		api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings", body)
	}
	key := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys",
		`{"targetType": "agent", "targetId": "`+agent+`"}`).json(t)["token"].(string)
	return e.client(t, key)
}

// resolved resolves every binding of the agent and returns the values by config path.
func resolved(t *testing.T, agent *apiClient) map[string]string {
	t.Helper()
	var res struct{ Values map[string]string }
	if err := json.Unmarshal(agent.must(200, "POST", "/api/runtime/resolve", `{}`).body, &res); err != nil {
		t.Fatal(err)
	}
	return res.Values
}

// waitFake polls the fake until cond holds.
func waitFake(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling the fake for the ledger's calls
	}
}

// The managed lifecycle through the real binary: create, rotate, resolve pinned and
// latest, delete, restore, purge, each with its KV v2 effect at the fake; the values
// and the token are nowhere but in the resolve answer.
func TestVaultProviderEndToEnd(t *testing.T) {
	t.Parallel()
	v := vaultInstance(t)
	e := v.e
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	follower := startFollower(t, api.subscriber(t, companyA))
	v1, v2 := canary("vault-v1"), canary("vault-v2")

	created := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "OpenAI key", "value": "`+v1+`"}`).json(t)
	id := created["id"].(string)
	path := vaultManagedPath(companyA, "openai-key")
	if created["provider"] != "vault" {
		t.Fatalf("created %v", created)
	}
	vaultCreatedStep(t, v, path, v1)
	vaultRotatedStep(t, v, api, id, path, v2)
	agent := agentFor(t, e, api, "a1", id, map[string]int{"pinned": 1, "latest": 0})
	if got := resolved(t, agent); got["pinned"] != v1 || got["latest"] != v2 {
		t.Fatal("resolution did not return each binding's own version")
	}
	vaultDeleteRestorePurgeStep(t, v, api, id, path)

	follower.waitFor(t, "the purge on NATS", hasType("secret.purged", "secret-"+id))
	s.stop(t)
	vaultNothingLeaksStep(t, v, s, api, agent, follower, []string{v1, v2})
}

// vaultCreatedStep: version 1 holds {"value": v1}, the metadata the retention
// (PAPERCLIP_SECRETS_VAULT_VERSION_RETENTION's default, 10) and the custom metadata of
// a managed secret.
func vaultCreatedStep(t *testing.T, v *vaultTest, path, v1 string) {
	t.Helper()
	sec := v.secretAt(t, path)
	if sec.CurrentVersion != 1 || sec.Versions[1].Data["value"] != v1 || len(sec.Versions[1].Data) != 1 || sec.MaxVersions != 10 {
		t.Fatalf("version 1 at the fake: current %d, data keys %d, max_versions %d", sec.CurrentVersion, len(sec.Versions[1].Data), sec.MaxVersions)
	}
	want := map[string]string{"paperclip:managed-by": "paperclip", "paperclip:company-id": companyA,
		"paperclip:secret-key": "openai-key", "paperclip:deployment-id": "e2e-dep"}
	for k, w := range want {
		if sec.CustomMetadata[k] != w {
			t.Fatalf("custom metadata %s = %q, want %q (all: %v)", k, sec.CustomMetadata[k], w, sec.CustomMetadata)
		}
	}
}

// vaultRotatedStep: a rotation is KV version 2, the ledger's version 2 names it.
func vaultRotatedStep(t *testing.T, v *vaultTest, api *apiClient, id, path, v2 string) {
	t.Helper()
	if got := api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+v2+`"}`).json(t)["latestVersion"]; got != 2.0 {
		t.Fatalf("latestVersion after the rotation: %v", got)
	}
	if sec := v.secretAt(t, path); sec.CurrentVersion != 2 || sec.Versions[2].Data["value"] != v2 || sec.Versions[1].Data["value"] == nil {
		t.Fatalf("after the rotation the fake holds current %d", sec.CurrentVersion)
	}
	refs := map[float64]any{}
	for _, ver := range api.must(200, "GET", "/api/secrets/"+id+"/versions", "").list(t) {
		refs[ver["version"].(float64)] = ver["providerVersionRef"]
	}
	if refs[1] != "1" || refs[2] != "2" {
		t.Fatalf("providerVersionRefs: %v", refs)
	}
}

// vaultDeleteRestorePurgeStep: delete soft-deletes every version at Vault, restore
// undeletes them, purge (after a delete) removes the path.
func vaultDeleteRestorePurgeStep(t *testing.T, v *vaultTest, api *apiClient, id, path string) {
	t.Helper()
	deleted := func(want bool) func() bool {
		return func() bool {
			sec, ok := v.fake.Secret("", vaultMount, path)
			if !ok {
				return false
			}
			for _, ver := range sec.Versions {
				if ver.Deletion.IsZero() == want {
					return false
				}
			}
			return true
		}
	}
	api.must(200, "DELETE", "/api/secrets/"+id, "")
	if !deleted(true)() {
		t.Fatalf("the ledger's delete left a version live at Vault: %+v", v.secretAt(t, path).Versions)
	}
	api.must(200, "POST", "/api/secrets/"+id+"/restore", "")
	if !deleted(false)() {
		t.Fatalf("restore left a version deleted at Vault: %+v", v.secretAt(t, path).Versions)
	}
	api.must(200, "DELETE", "/api/secrets/"+id, "")
	api.must(200, "POST", "/api/secrets/"+id+"/purge", `{"confirm": "`+id+`"}`)
	waitFake(t, "the purge at Vault", func() bool { _, ok := v.fake.Secret("", vaultMount, path); return !ok })
}

// vaultNothingLeaksStep: the values are nowhere but in the resolve answer (not in the
// database, the server's log, NATS or any other answer), and the token nowhere at all,
// doctor's output included; doctor finds the provider healthy.
func vaultNothingLeaksStep(t *testing.T, v *vaultTest, s *server, api, agent *apiClient, follower *follower, values []string) {
	t.Helper()
	dump := v.e.pgDump(t)
	var published strings.Builder
	for _, ev := range follower.events() {
		fmt.Fprintf(&published, "%s\n", ev.Payload)
	}
	code, doctorOut, doctorErr := v.e.run(t, "doctor")
	places := map[string]string{"pg_dump": dump, "server log": s.stderr.String(), "NATS": published.String(), "answers": api.seen.String()}
	for where, text := range places {
		for _, val := range values {
			if strings.Contains(text, val) {
				t.Errorf("a plaintext value is in the %s", where)
			}
		}
	}
	places["resolve answers"], places["doctor"] = agent.seen.String(), doctorOut+doctorErr
	for where, text := range places {
		if strings.Contains(text, v.token) {
			t.Errorf("the Vault token is in the %s", where)
		}
	}
	if !strings.Contains(dump, `"vault"`) && !strings.Contains(dump, "\tvault\t") {
		t.Fatal("the dump does not hold the secrets: the canary search proves nothing")
	}
	if !strings.Contains(agent.seen.String(), values[0]) {
		t.Fatal("the resolve answers do not hold the value: the canary search proves nothing")
	}
	if code != 0 || !strings.Contains(doctorOut, "ok   vault: address "+v.fake.URL()+"; auth method token;") ||
		!strings.Contains(doctorOut, "managed root paperclip/e2e-dep/") || strings.Contains(doctorOut, "FAIL") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, doctorOut, doctorErr)
	}
}

// serve with vault as the default provider and nothing else exits 2 naming each
// missing setting.
func TestVaultDeploymentDefaultNeedsItsSettings(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = []string{"PAPERCLIP_SECRETS_PROVIDER=vault"}
	code, _, errOut := e.run(t, "serve")
	if code != 2 || !strings.Contains(errOut, "PAPERCLIP_SECRETS_VAULT_ADDR") || !strings.Contains(errOut, "VAULT_TOKEN_FILE") {
		t.Fatalf("serve without the vault settings: exit %d\n%s", code, errOut)
	}
	// The other auth methods name their own settings.
	for method, want := range map[string][]string{
		"approle":    {"PAPERCLIP_SECRETS_VAULT_APPROLE_ROLE_ID_FILE", "PAPERCLIP_SECRETS_VAULT_APPROLE_SECRET_ID_FILE"},
		"kubernetes": {"PAPERCLIP_SECRETS_VAULT_K8S_ROLE"},
	} {
		e.vars = []string{"PAPERCLIP_SECRETS_PROVIDER=vault", "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD=" + method}
		code, _, errOut := e.run(t, "serve")
		for _, w := range append(want, "PAPERCLIP_SECRETS_VAULT_ADDR") {
			if code != 2 || !strings.Contains(errOut, w) {
				t.Fatalf("serve with %s and nothing else: exit %d, want %s named\n%s", method, code, w, errOut)
			}
		}
	}
}
