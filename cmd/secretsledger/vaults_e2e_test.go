package main

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// vaultsPath is the company's vault collection.
func vaultsPath(company string) string {
	return "/api/companies/" + company + "/secret-provider-configs"
}

// logDefaults folds the company's vault stream, as committed to the log, into the
// default vault of each provider.
func (a *apiTarget) logDefaults(t *testing.T, company string) map[string][]string {
	t.Helper()
	out, err := a.psql(t, `SELECT coalesce(json_agg(json_build_object('type', event_type, 'payload', payload) ORDER BY stream_version), '[]')
		FROM ledger_log WHERE stream_id = 'vaults-`+company+`'`)
	if err != nil {
		t.Fatalf("read the log: %v %s", err, out)
	}
	var evs []struct {
		Type    string
		Payload struct {
			VaultID           string `json:"vaultId"`
			Provider          string `json:"provider"`
			PreviousDefaultID string `json:"previousDefaultId"`
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &evs); err != nil {
		t.Fatalf("the log's vault events: %v\n%s", err, out)
	}
	isDefault := map[string]bool{}
	providerOf := map[string]string{}
	for _, e := range evs {
		switch e.Type {
		case "vault.created":
			providerOf[e.Payload.VaultID] = e.Payload.Provider
		case "vault.default_set":
			delete(isDefault, e.Payload.PreviousDefaultID)
			isDefault[e.Payload.VaultID] = true
		case "vault.disabled":
			delete(isDefault, e.Payload.VaultID)
		}
	}
	defaults := map[string][]string{}
	for id := range isDefault {
		defaults[providerOf[id]] = append(defaults[providerOf[id]], id)
	}
	return defaults
}

// readModelDefaults lists the company's vaults of a provider and returns the defaults.
func readModelDefaults(t *testing.T, api *apiClient, company, provider string) []string {
	t.Helper()
	var ids []string
	for _, v := range api.must(200, "GET", vaultsPath(company)+"?provider="+provider, "").list(t) {
		if v["isDefault"] == true {
			ids = append(ids, v["id"].(string))
		}
	}
	return ids
}

func TestProviderVaultsEndToEnd(t *testing.T) {
	t.Parallel()
	providerVaults(t, onOneProcess(t, "LEDGER_AWS_VAULTS=on"))
}

// vaultsFlow is what the steps of providerVaults share.
type vaultsFlow struct {
	tg                 *apiTarget
	api                *apiClient
	companyA, companyB string
	leak               string // a credential every vault config with it is refused
	a, b, local        string // two AWS vaults and a local one
}

// providerVaults creates, validates, races set-default on, renames, disables and
// health-checks vaults over the API and the CLI; keeps other companies and agents out;
// refuses credentials in a vault's config; and rebuilds the same rows. The processes
// must have no AWS credentials.
func providerVaults(t *testing.T, tg *apiTarget) {
	companyA, companyB := tg.companies()
	api := tg.client(t, tg.token)
	leak := canary("vault-credential")
	v := &vaultsFlow{tg: tg, api: api, companyA: companyA, companyB: companyB, leak: leak}

	vaultsCreateAndValidateStep(t, v)
	vaultsRacingSetDefaultStep(t, v)
	vaultsPatchStep(t, v)
	vaultsDisableStep(t, v)
	vaultsHealthStep(t, v)
	vaultsOtherCompanyAndAgentsStep(t, v)
	vaultsCredentialsRefusedStep(t, v)
	vaultsCLIStep(t, v)
	vaultsRebuildStep(t, v)
	vaultsCredentialNowhereStep(t, v)
}

// vaultsCreateAndValidateStep creates vaults of each provider and refuses invalid ones.
func vaultsCreateAndValidateStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	api, companyA := v.api, v.companyA
	created := api.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "AWS prod", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "prod"}, "isDefault": true}`).json(t)
	a := created["id"].(string)
	if created["status"] != "ready" || created["isDefault"] != true || created["healthStatus"] != nil ||
		created["config"].(map[string]any)["namespace"] != "prod" {
		t.Fatalf("created %v", created)
	}
	b := api.must(201, "POST", vaultsPath(companyA),
		`{"displayName": "AWS eu", "provider": "aws_secrets_manager", "config": {"region": "eu-west-1"}}`).json(t)["id"].(string)
	local := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "Local", "provider": "local_encrypted"}`).json(t)["id"].(string)
	gcp := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "GCP", "provider": "gcp_secret_manager", "config": {}}`).json(t)
	if gcp["status"] != "coming_soon" {
		t.Fatalf("gcp vault %v", gcp)
	}
	api.must(422, "POST", "/api/secret-provider-configs/"+gcp["id"].(string)+"/default", "")
	api.must(422, "POST", vaultsPath(companyA), `{"displayName": "HCV", "provider": "vault", "config": {"address": "https://v.example.com:8200"}, "isDefault": true}`)
	api.must(422, "POST", vaultsPath(companyA), `{"displayName": "HCV", "provider": "vault", "config": {"address": "https://v.example.com/v1"}}`)
	api.must(422, "POST", vaultsPath(companyA), `{"displayName": "L", "provider": "local_encrypted", "config": {"region": "us-east-1"}}`)
	api.must(422, "POST", vaultsPath(companyA), `{"displayName": "A", "provider": "aws_secrets_manager", "config": {"region": "Mars"}}`)
	api.must(400, "GET", vaultsPath(companyA)+"?provider=azure", "")
	v.a, v.b, v.local = a, b, local
}

// vaultsRacingSetDefaultStep: two concurrent set-default calls on two vaults of one
// provider, several rounds: each is 200 or 409, and after both exactly one vault is the
// default, in the read model and in the log.
func vaultsRacingSetDefaultStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	tg, api, companyA, a, b := v.tg, v.api, v.companyA, v.a, v.b
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, id := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := api.try("POST", "/api/secret-provider-configs/"+id+"/default", "")
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.status
			}()
		}
		wg.Wait()
		for _, st := range statuses {
			if st != 200 && st != 409 {
				t.Fatalf("round %d: set-default answered %v", round, statuses)
			}
		}
		rm := readModelDefaults(t, api, companyA, "aws_secrets_manager")
		logged := tg.logDefaults(t, companyA)["aws_secrets_manager"]
		if len(rm) != 1 || len(logged) != 1 || rm[0] != logged[0] {
			t.Fatalf("round %d (%v): defaults %v in the read model, %v in the log", round, statuses, rm, logged)
		}
	}
}

// vaultsPatchStep: PATCH renames; provider never changes; config re-validated.
func vaultsPatchStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	api, b := v.api, v.b
	if r := api.must(200, "PATCH", "/api/secret-provider-configs/"+b, `{"displayName": "AWS EU"}`).json(t); r["displayName"] != "AWS EU" {
		t.Fatalf("rename %v", r)
	}
	api.must(422, "PATCH", "/api/secret-provider-configs/"+b, `{"provider": "local_encrypted"}`)
	api.must(422, "PATCH", "/api/secret-provider-configs/"+b, `{"config": {"namespace": "x"}}`)
}

// vaultsDisableStep: disable: the default goes with it; again is 200; it cannot become
// the default.
func vaultsDisableStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	api, companyA, b := v.api, v.companyA, v.b
	api.must(200, "POST", "/api/secret-provider-configs/"+b+"/default", "")
	d := api.must(200, "DELETE", "/api/secret-provider-configs/"+b, "").json(t)
	if d["status"] != "disabled" || d["isDefault"] != false || d["disabledAt"] == nil {
		t.Fatalf("disabled %v", d)
	}
	if r := api.must(200, "DELETE", "/api/secret-provider-configs/"+b, ""); r.header.Get("X-Ledger-Position") != "" {
		t.Fatalf("a repeated disable wrote: %s", r.header.Get("X-Ledger-Position"))
	}
	api.must(422, "POST", "/api/secret-provider-configs/"+b+"/default", "")
	if rm := readModelDefaults(t, api, companyA, "aws_secrets_manager"); len(rm) != 0 {
		t.Fatalf("defaults after disabling the default: %v", rm)
	}
}

// vaultsHealthStep: local is ok; repeating it records nothing; an AWS vault is checked by
// the AWS provider: with no credentials in the test's environment, an error (and the
// vault a warning) with the details of its configuration.
func vaultsHealthStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	api, a, local := v.api, v.a, v.local
	h1 := api.must(200, "POST", "/api/secret-provider-configs/"+local+"/health", "")
	if v := h1.json(t); v["healthStatus"] != "ok" || v["status"] != "ready" || h1.header.Get("X-Ledger-Position") == "" {
		t.Fatalf("local health %v", v)
	}
	h2 := api.must(200, "POST", "/api/secret-provider-configs/"+local+"/health", "")
	if h2.header.Get("X-Ledger-Position") != "" || h2.json(t)["healthCheckedAt"] != h1.json(t)["healthCheckedAt"] {
		t.Fatalf("a repeated check was recorded: %s", h2.body)
	}
	if v := api.must(200, "POST", "/api/secret-provider-configs/"+a+"/health", "").json(t); v["healthStatus"] != "error" ||
		v["status"] != "warning" || !strings.Contains(v["healthMessage"].(string), "found no credentials") ||
		v["healthDetails"].(map[string]any)["region"] != "us-east-1" || v["healthDetails"].(map[string]any)["deploymentId"] != "prod" {
		t.Fatalf("aws health %v", v)
	}
}

// vaultsOtherCompanyAndAgentsStep: another company's board token: 404; an agent key: 403.
func vaultsOtherCompanyAndAgentsStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	tg, api, companyA, companyB, a := v.tg, v.api, v.companyA, v.companyB, v.a
	code, out, errOut := tg.run(t, "token", "create", "--board", "--company", companyB)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	other := tg.client(t, strings.TrimSpace(out))
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/api/secret-provider-configs/" + a, ""},
		{"PATCH", "/api/secret-provider-configs/" + a, `{"displayName": "stolen"}`},
		{"DELETE", "/api/secret-provider-configs/" + a, ""},
		{"POST", "/api/secret-provider-configs/" + a + "/default", ""},
		{"POST", "/api/secret-provider-configs/" + a + "/health", ""},
		{"GET", vaultsPath(companyA), ""},
		{"POST", vaultsPath(companyA), `{"displayName": "x", "provider": "local_encrypted"}`},
	} {
		if r := other.do(req.method, req.path, req.body); r.status != 404 {
			t.Errorf("%s %s with a company-B token: %d %s, want 404", req.method, req.path, r.status, r.body)
		}
	}
	if got := api.must(200, "GET", "/api/secret-provider-configs/"+a, "").json(t); got["displayName"] != "AWS prod" || got["status"] == "disabled" {
		t.Fatalf("company B changed company A's vault: %v", got)
	}
	agentKey := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "runner"}`).json(t)["token"].(string)
	agent := tg.client(t, agentKey)
	agent.must(403, "GET", vaultsPath(companyA), "")
	agent.must(403, "GET", "/api/secret-provider-configs/"+a, "")
	agent.must(403, "POST", vaultsPath(companyA), `{"displayName": "x", "provider": "local_encrypted"}`)
}

// vaultsCredentialsRefusedStep: credentials are refused, at any depth and in any case,
// before unknown keys, and their value appears nowhere.
func vaultsCredentialsRefusedStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	api, companyA, leak, a := v.api, v.companyA, v.leak, v.a
	for _, body := range []string{
		`{"displayName": "Leaky", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "secretAccessKey": "` + leak + `"}}`,
		`{"displayName": "Leaky", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "auth": {"SESSION_TOKEN": "` + leak + `"}}}`,
		`{"displayName": "Leaky", "provider": "vault", "config": {"unsealKey": ["` + leak + `"]}}`,
	} {
		r := api.must(422, "POST", vaultsPath(companyA), body)
		if msg := r.json(t)["error"].(string); !strings.Contains(msg, "Provider vault config cannot persist sensitive field") {
			t.Errorf("refusal message %q", msg)
		}
	}
	api.must(422, "PATCH", "/api/secret-provider-configs/"+a, `{"config": {"region": "us-east-1", "Password": "`+leak+`"}}`)
}

// vaultsCLIStep: the CLI verbs, over the API.
func vaultsCLIStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	tg, api, companyA, leak, a := v.tg, v.api, v.companyA, v.leak, v.a
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := tg.run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	var cliVault map[string]any
	if err := json.Unmarshal([]byte(run("vaults", "create", "-C", companyA, "--display-name", "CLI", "--provider", "aws_secrets_manager",
		"--config", `{"region": "ap-southeast-2", "ownerTag": "ops"}`, "--default", "-o", "json")), &cliVault); err != nil ||
		cliVault["isDefault"] != true {
		t.Fatalf("vaults create: %v %v", cliVault, err)
	}
	cid := cliVault["id"].(string)
	run("vaults", "update", cid, "--display-name", "CLI renamed", "-o", "json")
	run("vaults", "health", cid, "-o", "json")
	var listed []map[string]any
	if err := json.Unmarshal([]byte(run("vaults", "list", "-C", companyA, "--provider", "aws_secrets_manager", "-o", "json")), &listed); err != nil || len(listed) != 3 {
		t.Fatalf("vaults list: %v %v", listed, err)
	}
	if table := run("vaults", "list", "-C", companyA, "-o", "table"); !strings.Contains(table, "CLI renamed") || !strings.HasPrefix(table, "ID") {
		t.Fatalf("vaults table:\n%s", table)
	}
	run("vaults", "default", a, "-o", "json")
	if rm := readModelDefaults(t, api, companyA, "aws_secrets_manager"); len(rm) != 1 || rm[0] != a {
		t.Fatalf("defaults after the CLI: %v", rm)
	}
	run("vaults", "disable", cid, "-o", "json")
	if code, _, errOut := tg.run(t, "vaults", "create", "-C", companyA, "--display-name", "x", "--provider", "local_encrypted",
		"--config", `{"token": "`+leak+`"}`); code != 1 || !strings.Contains(errOut, "sensitive field") || strings.Contains(errOut, leak) {
		t.Fatalf("CLI create with a credential: %d %s", code, errOut)
	}
}

// vaultsRebuildStep: a rebuild gives the same rows.
func vaultsRebuildStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	tg := v.tg
	const snapshot = `SELECT json_agg(v ORDER BY id)::text FROM company_secret_provider_configs v`
	before, err := tg.psql(t, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := tg.run(t, "replay"); code != 0 {
		t.Fatalf("replay: %d %s %s", code, out, errOut)
	}
	if after, err := tg.psql(t, snapshot); err != nil || after != before {
		t.Fatalf("replay changed the vaults:\nbefore %s\nafter  %s", before, after)
	}
}

// vaultsCredentialNowhereStep: the refused credential is nowhere: not in the database,
// the log or any answer.
func vaultsCredentialNowhereStep(t *testing.T, v *vaultsFlow) {
	t.Helper()
	tg, api, leak := v.tg, v.api, v.leak
	tg.stop(t)
	dump := tg.pgDump(t)
	if !strings.Contains(dump, "vault.default_set") {
		t.Fatal("the dump does not hold the vault events: the search proves nothing")
	}
	for where, text := range map[string]string{"pg_dump": dump, "server log": tg.logs(), "HTTP responses": api.seen.String()} {
		if strings.Contains(text, leak) {
			t.Errorf("the refused credential is in the %s", where)
		}
	}
}

// With LEDGER_VAULT_HEALTH_INTERVAL, the process holding the vault-health lease checks
// every usable vault on its own and records the result (as ledger:vault-health) when the
// health changed; a disabled vault is left alone.
func TestScheduledVaultHealthChecks(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = append(e.vars, "LEDGER_VAULT_HEALTH_INTERVAL=1s")
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	local := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "Local", "provider": "local_encrypted"}`).json(t)["id"].(string)
	disabled := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "Off", "provider": "local_encrypted"}`).json(t)["id"].(string)
	api.must(200, "DELETE", "/api/secret-provider-configs/"+disabled, "")
	deadline := time.Now().Add(20 * time.Second)
	var v map[string]any
	for {
		v = api.must(200, "GET", "/api/secret-provider-configs/"+local, "").json(t)
		if v["healthStatus"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled health check recorded within 20 s: %v", v)
		}
		time.Sleep(100 * time.Millisecond) // polling the read model
	}
	if v["healthStatus"] != "ok" || v["healthCheckedAt"] == nil {
		t.Fatalf("after the scheduled check: %v", v)
	}
	out, err := e.psql(t, `SELECT string_agg(DISTINCT metadata->>'actorId', ',') FROM ledger_log WHERE event_type = 'vault.health_checked'`)
	if err != nil || strings.TrimSpace(out) != "ledger:vault-health" {
		t.Fatalf("health checks recorded as %q (%v)", out, err)
	}
	if off := api.must(200, "GET", "/api/secret-provider-configs/"+disabled, "").json(t); off["healthStatus"] != nil {
		t.Fatalf("a disabled vault was checked: %v", off)
	}
	// An unchanged health is not recorded again: one event per vault that changed.
	n, err := e.psql(t, `SELECT count(*) FROM ledger_log WHERE event_type = 'vault.health_checked'`)
	if err != nil || strings.TrimSpace(n) != "1" {
		t.Fatalf("%q health events (%v), want 1", n, err)
	}
	if roles := e.roles(t); !slices.Contains(roles, "vault-health") {
		t.Fatalf("roles %v", roles)
	}
}
