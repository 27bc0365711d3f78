package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/providers"
)

// detailedProvider is a provider whose health has instance details, as the AWS
// provider's has.
type detailedProvider struct{ providers.Provider }

func (detailedProvider) Descriptor() providers.Descriptor {
	return providers.Descriptor{ID: providers.AWSSecretsManager, Label: "AWS", Configured: true}
}

func (detailedProvider) Health(context.Context) providers.Health {
	return providers.Health{Provider: providers.AWSSecretsManager, OK: true, Details: []string{
		"region us-east-1, prefix instprefix, deployment dep-instance-1, KMS key configured",
		"endpoint http://aws.internal:4566", "credentials from EnvConfigCredentials"}}
}

// recordedHealth answers vault health checks as checks recorded before instance
// details were kept out of the log did.
type recordedHealth struct{}

func (recordedHealth) Check(context.Context, commands.Vault) (string, string, map[string]any) {
	return "ok", "region us-east-1, prefix instprefix, deployment team-ns, KMS key configured; endpoint http://aws.internal:4566; credentials from EnvConfigCredentials",
		map[string]any{"region": "us-east-1", "prefix": "instprefix", "deploymentId": "team-ns", "kmsKeyConfigured": true,
			"credentialSource": "EnvConfigCredentials", "detectedCredentialSources": []any{"env"}}
}

// Instance details (key fingerprint and source, endpoint, prefix, deployment id,
// credential source) and the log's state are for instance-wide board tokens; a token
// limited to the company gets the health status without them, and 403 for the ledger.
func TestInstanceDetailsOnlyForInstanceTokens(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, tokenA := s.newToken([]string{companyA})
	s.api.Providers.Instances = append(s.api.Providers.Instances, detailedProvider{})
	s.health.set(recordedHealth{})
	s.route()
	instanceDetails := []string{"master key", "instprefix", "dep-instance-1", "aws.internal", "EnvConfigCredentials", "credentialSource"}

	path := "/api/companies/" + companyA + "/secret-providers/health"
	all := s.do(newRequest(http.MethodGet, path, ""), s.board)
	wantStatus(t, all, 200, "provider health, instance token")
	for _, d := range instanceDetails[:5] {
		if !strings.Contains(all.Body.String(), d) {
			t.Fatalf("the instance token does not see %q: %s", d, all.Body)
		}
	}
	limited := s.do(newRequest(http.MethodGet, path, ""), tokenA)
	wantStatus(t, limited, 200, "provider health, company token")
	body := limited.Body.String()
	if strings.Count(body, `"ok":true`) != 2 || strings.Count(body, `"findings":[]`) != 2 {
		t.Fatalf("the company token does not get the status of both providers: %s", body)
	}
	for _, d := range instanceDetails {
		if strings.Contains(body, d) {
			t.Fatalf("the company token sees %q: %s", d, body)
		}
	}

	vault := s.fixtures()["secret-provider-configs"]
	checked := s.do(newRequest(http.MethodPost, "/api/secret-provider-configs/"+vault+"/health", ""), tokenA)
	wantStatus(t, checked, 200, "vault health, company token")
	for _, read := range []string{checked.Body.String(),
		s.do(newRequest(http.MethodGet, "/api/secret-provider-configs/"+vault, ""), tokenA).Body.String(),
		s.do(newRequest(http.MethodGet, "/api/companies/"+companyA+"/secret-provider-configs", ""), tokenA).Body.String()} {
		if !strings.Contains(read, `"region":"us-east-1"`) || !strings.Contains(read, "deployment team-ns, KMS key configured") {
			t.Fatalf("the company token lost the vault's own health details: %s", read)
		}
		for _, d := range instanceDetails {
			if strings.Contains(read, d) {
				t.Fatalf("the company token sees %q in its vault: %s", d, read)
			}
		}
	}
	if v := s.do(newRequest(http.MethodGet, "/api/secret-provider-configs/"+vault, ""), s.board); !strings.Contains(v.Body.String(), "EnvConfigCredentials") {
		t.Fatalf("the instance token does not see the recorded details: %s", v.Body)
	}

	refused := s.do(newRequest(http.MethodGet, "/api/ledger", ""), tokenA)
	wantStatus(t, refused, 403, "GET /api/ledger, company token")
	if !strings.Contains(refused.Body.String(), "EFORBIDDEN") || strings.Contains(refused.Body.String(), "position") {
		t.Fatalf("GET /api/ledger, company token: %s", refused.Body)
	}
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/ledger", ""), s.board), 200, "GET /api/ledger, instance token")
}
