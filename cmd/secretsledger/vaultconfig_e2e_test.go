package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// An AWS vault config the server accepts is usable, and one it cannot use is refused
// where it is configured (422 naming the field, nothing written), never a 503 later: a
// namespace of several segments places secrets at <prefix>/team/prod/<companyId>/<key>.
// Changing a vault's config again and again does not pile up provider instances, and a
// company's vaults are capped.
func TestAWSVaultConfigsAreUsableAndBounded(t *testing.T) {
	t.Parallel()
	e, fake := awsInstance(t)
	metricsAddr := freeAddr(t)
	e.vars = append(e.vars, "LEDGER_METRICS_ADDR="+metricsAddr)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))

	vaultConfigsRefusedWhereConfiguredStep(t, api)
	vault := vaultConfigNamespaceOfSegmentsStep(t, e, fake, api)
	vaultConfigProvidersAndDraftsStep(t, api)
	vaultConfigCyclesLeakNothingStep(t, api, vault, metricsAddr)
	vaultsPerCompanyCappedStep(t, api)
}

// vaultConfigsRefusedWhereConfiguredStep: a config the server cannot use is refused at
// create: 422 naming the field, nothing written.
func vaultConfigsRefusedWhereConfiguredStep(t *testing.T, api *apiClient) {
	t.Helper()
	for _, tc := range []struct{ config, field string }{
		{`{"region": "us-east-1", "namespace": ".."}`, "config.namespace"},
		{`{"region": "us-east-1", "namespace": "team//prod"}`, "config.namespace"},
		{`{"region": "us-east-1", "namespace": "/team"}`, "config.namespace"},
		{`{"region": "us-east-1", "namespace": "team/"}`, "config.namespace"},
		{`{"region": "us-east-1", "secretNamePrefix": "a//b"}`, "config.secretNamePrefix"},
		{`{"region": "us-east-1", "secretNamePrefix": "pc/.."}`, "config.secretNamePrefix"},
	} {
		r := api.must(422, "POST", vaultsPath(companyA),
			`{"displayName": "bad", "provider": "aws_secrets_manager", "isDefault": true, "config": `+tc.config+`}`)
		if !strings.Contains(string(r.body), tc.field) || r.header.Get("X-Ledger-Position") != "" {
			t.Fatalf("create with %s: %s, want 422 naming %s and nothing written", tc.config, r.body, tc.field)
		}
	}
	if vaults := api.must(200, "GET", vaultsPath(companyA), "").list(t); len(vaults) != 0 {
		t.Fatalf("refused creates left vaults: %v", vaults)
	}
}

// vaultConfigNamespaceOfSegmentsStep: a namespace of several segments places secrets at
// <prefix>/team/prod/<companyId>/<key>, which resolve; a PATCH to an unusable one is
// refused and changes nothing. It returns the vault.
func vaultConfigNamespaceOfSegmentsStep(t *testing.T, e *instanceEnv, fake *awsfake.Server, api *apiClient) string {
	t.Helper()
	vault := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "team prod", "provider": "aws_secrets_manager",
		"isDefault": true, "config": {"region": "us-east-1", "namespace": "team/prod"}}`).json(t)["id"].(string)
	sec := api.must(201, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "Team key", "value": "team-value", "provider": "aws_secrets_manager"}`).json(t)
	if sec["providerConfigId"] != vault || !fake.Exists("paperclip/team/prod/"+companyA+"/team-key") {
		t.Fatalf("secret in the team/prod vault: %v", sec)
	}
	api.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sec["id"].(string)+`", "targetType": "agent", "targetId": "team", "configPath": "key"}`)
	key := api.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "team"}`).json(t)["token"].(string)
	if v := e.client(t, key).must(200, "POST", "/api/runtime/resolve", `{}`).json(t)["values"].(map[string]any)["key"]; v != "team-value" {
		t.Fatalf("resolve from the team/prod vault: %v", v)
	}
	r := api.must(422, "PATCH", "/api/secret-provider-configs/"+vault, `{"config": {"region": "us-east-1", "namespace": ".."}}`)
	if !strings.Contains(string(r.body), "config.namespace") || r.header.Get("X-Ledger-Position") != "" {
		t.Fatalf("PATCH to namespace ..: %s", r.body)
	}
	if got := api.must(200, "GET", "/api/secret-provider-configs/"+vault, "").json(t)["config"].(map[string]any)["namespace"]; got != "team/prod" {
		t.Fatalf("a refused PATCH changed the config: namespace %v", got)
	}
	return vault
}

// vaultConfigProvidersAndDraftsStep: the providers list names every provider a vault
// may name; a coming_soon vault is a draft that takes no secret.
func vaultConfigProvidersAndDraftsStep(t *testing.T, api *apiClient) {
	t.Helper()
	providers := api.must(200, "GET", "/api/companies/"+companyA+"/secret-providers", "").list(t)
	var listed []string
	for _, p := range providers {
		listed = append(listed, fmt.Sprint(p["id"], ":", p["status"]))
	}
	if strings.Join(listed, " ") != "local_encrypted:ready aws_secrets_manager:ready gcp_secret_manager:coming_soon vault:coming_soon" {
		t.Fatalf("providers %v", listed)
	}
	draft := api.must(201, "POST", vaultsPath(companyA), `{"displayName": "GCP draft", "provider": "gcp_secret_manager"}`).json(t)
	r := api.must(422, "POST", "/api/companies/"+companyA+"/secrets",
		`{"name": "In GCP", "value": "v", "providerConfigId": "`+draft["id"].(string)+`"}`)
	if draft["status"] != "coming_soon" || !strings.Contains(string(r.body), "coming_soon") || r.header.Get("X-Ledger-Position") != "" {
		t.Fatalf("a secret in a coming_soon vault: %s (vault %v)", r.body, draft)
	}
}

// vaultConfigCyclesLeakNothingStep: PATCH + health cycles: the goroutines of the server
// stay where they were.
func vaultConfigCyclesLeakNothingStep(t *testing.T, api *apiClient, vault, metricsAddr string) {
	t.Helper()
	cycle := func(i int) {
		api.must(200, "PATCH", "/api/secret-provider-configs/"+vault,
			fmt.Sprintf(`{"config": {"region": "us-east-1", "namespace": "cycle-%d"}}`, i))
		api.must(200, "POST", "/api/secret-provider-configs/"+vault+"/health", "")
	}
	goroutines := func() float64 {
		n, ok := sampleValue(scrape(t, "http://"+metricsAddr), "go_goroutines", "")
		if !ok {
			t.Fatal("no go_goroutines in /metrics")
		}
		return n
	}
	cycle(0)
	baseline := goroutines()
	const cycles = 60
	for i := 1; i <= cycles; i++ {
		cycle(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := goroutines(); n > baseline+15; n = goroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%v goroutines after %d PATCH+health cycles, %v before: superseded provider instances leak", n, cycles, baseline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vaultsPerCompanyCappedStep: at most 50 vaults per company, disabled ones included; the
// 51st is refused and nothing is written.
func vaultsPerCompanyCappedStep(t *testing.T, api *apiClient) {
	t.Helper()
	for i := 0; i < 50; i++ {
		id := api.must(201, "POST", vaultsPath(companyB), fmt.Sprintf(`{"displayName": "v%d", "provider": "local_encrypted"}`, i)).json(t)["id"].(string)
		if i == 0 {
			api.must(200, "DELETE", "/api/secret-provider-configs/"+id, "")
		}
	}
	r := api.must(422, "POST", vaultsPath(companyB), `{"displayName": "one too many", "provider": "local_encrypted"}`)
	if !strings.Contains(string(r.body), "at most 50 provider vaults") || r.header.Get("X-Ledger-Position") != "" {
		t.Fatalf("vault 51: %s", r.body)
	}
	if n := len(api.must(200, "GET", vaultsPath(companyB), "").list(t)); n != 50 {
		t.Fatalf("%d vaults after the refusal, want 50", n)
	}
}
