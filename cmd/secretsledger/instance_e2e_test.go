package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestInstanceDetailsOnlyForInstanceTokens: on an instance running the AWS provider
// (the fake), an instance-wide token sees the master key's fingerprint and file, the
// AWS endpoint, prefix and deployment id in the providers' health; a token limited to
// company A sees each provider's status only, its vault health checks record none of
// them, and GET /api/ledger is refused to it (the console shows that, not a 500).
func TestInstanceDetailsOnlyForInstanceTokens(t *testing.T) {
	t.Parallel()
	e, fake := awsInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	admin := e.client(t, e.instanceToken(t))
	code, out, errOut := e.run(t, "token", "create", "--board", "--company", companyA)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	limited := e.client(t, strings.TrimSpace(out))

	path := "/api/companies/" + companyA + "/secret-providers/health"
	all := string(admin.must(200, "GET", path, "").body)
	key := regexp.MustCompile(`master key (\S+) from ([^"]+)"`).FindStringSubmatch(all)
	if key == nil || !strings.Contains(all, fake.URL) || !strings.Contains(all, "prefix paperclip, deployment e2e-dep") {
		t.Fatalf("the instance token does not see the instance's details: %s", all)
	}
	details := []string{key[1], key[2], fake.URL, "e2e-dep", "paperclip", "credentials from", "AWS_ACCESS_KEY_ID"}
	health := limited.must(200, "GET", path, "").list(t)
	if len(health) != 2 || health[0]["ok"] != true || health[1]["ok"] != true {
		t.Fatalf("the company token does not get the providers' status: %v", health)
	}
	vault := admin.must(201, "POST", "/api/companies/"+companyA+"/secret-provider-configs",
		`{"displayName": "AWS team", "provider": "aws_secrets_manager", "config": {"region": "us-east-1", "namespace": "team-ns"}}`).json(t)["id"].(string)
	checked := limited.must(200, "POST", "/api/secret-provider-configs/"+vault+"/health", "")
	// The static keys of the test's environment are a warning; what it says is the instance's.
	if v := checked.json(t); v["healthStatus"] != "warning" || !strings.Contains(v["healthMessage"].(string), "namespace team-ns") {
		t.Fatalf("vault health: %s", checked.body)
	}
	answers := map[string]string{
		"provider health": string(limited.must(200, "GET", path, "").body),
		"vault health":    string(checked.body),
		"audit export":    string(limited.must(200, "GET", "/api/companies/"+companyA+"/audit/export", "").body),
	}
	if !strings.Contains(answers["audit export"], "vault.health_checked") {
		t.Fatalf("the export does not hold the health check: the search proves nothing")
	}
	for what, body := range answers {
		for _, d := range details {
			if strings.Contains(body, d) {
				t.Errorf("the company token's %s shows %q: %s", what, d, body)
			}
		}
	}

	if r := limited.do("GET", "/api/ledger", ""); r.status != 403 || !strings.Contains(string(r.body), "EFORBIDDEN") {
		t.Fatalf("GET /api/ledger with a company token: %d %s", r.status, r.body)
	}
	if st := admin.must(200, "GET", "/api/ledger", "").json(t); st["head"] == nil {
		t.Fatalf("GET /api/ledger with the instance token: %v", st)
	}
}
