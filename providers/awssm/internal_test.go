package awssm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

func TestSanitizeAndName(t *testing.T) {
	for in, want := range map[string]string{
		"api-key":        "api-key",
		"a b\tc":         "a-b-c",
		"ключ":           "----",
		"x/y_z+=.@-":     "x/y_z+=.@-",
		"semi;colon*?":   "semi-colon--",
		"01HZX9ABCDEFGH": "01HZX9ABCDEFGH",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	s := Scope{Prefix: "paperclip", DeploymentID: "prod-us-1", CompanyID: "co 1", Key: "openai.key"}
	if got := s.Name(); got != "paperclip/prod-us-1/co-1/openai.key" {
		t.Fatalf("Name = %q", got)
	}
}

func TestCheckTarget(t *testing.T) {
	ok := Scope{Prefix: "paperclip", DeploymentID: "dep", CompanyID: "coA", Key: "api-key"}
	name := ok.Name()
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name
	with := func(f func(*Scope)) Scope { s := ok; f(&s); return s }
	for _, tc := range []struct {
		name   string
		target string
		scope  Scope
		ok     bool
	}{
		{"derived name", name, ok, true},
		{"ARN with AWS suffix", arn + "-AbCdEf", ok, true},
		{"ARN without suffix", arn, ok, true},
		{"gov partition ARN", "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:" + name + "-x1Y2z3", ok, true},
		{"nested prefix", "org/paperclip/dep/coA/api-key", with(func(s *Scope) { s.Prefix = "org/paperclip" }), true},
		{"another company's name", "paperclip/dep/coB/api-key", ok, false},
		{"another deployment's name", "paperclip/other/coA/api-key", ok, false},
		{"another key", "paperclip/dep/coA/other-key", ok, false},
		{"longer name sharing the prefix", name + "-extra", ok, false},
		{"suffix of wrong length", arn + "-AbCdE", ok, false},
		{"suffix with a symbol", arn + "-AbC_Ef", ok, false},
		{"a name below the derived one", name + "/child", ok, false},
		{"key climbing out", "paperclip/dep/coA/../coB/x", with(func(s *Scope) { s.Key = "../coB/x" }), false},
		{"key with /../ inside", "paperclip/dep/coA/a/../../coB/x", with(func(s *Scope) { s.Key = "a/../../coB/x" }), false},
		{"key that is ..", "paperclip/dep/coA/..", with(func(s *Scope) { s.Key = ".." }), false},
		{"key with an empty segment", "paperclip/dep/coA/a//b", with(func(s *Scope) { s.Key = "a//b" }), false},
		{"empty key", "paperclip/dep/coA/", with(func(s *Scope) { s.Key = "" }), false},
		{"company spanning segments", "paperclip/dep/coA/coB/api-key", with(func(s *Scope) { s.CompanyID = "coA/coB" }), false},
		{"company that is ..", "paperclip/dep/../api-key", with(func(s *Scope) { s.CompanyID = ".." }), false},
		{"deployment spanning segments", "paperclip/team/prod/coA/api-key", with(func(s *Scope) { s.DeploymentID = "team/prod" }), true},
		{"deployment with an empty segment", "paperclip/a//b/coA/api-key", with(func(s *Scope) { s.DeploymentID = "a//b" }), false},
		{"deployment with a leading /", "paperclip//a/coA/api-key", with(func(s *Scope) { s.DeploymentID = "/a" }), false},
		{"deployment that is ..", "paperclip/../coA/api-key", with(func(s *Scope) { s.DeploymentID = ".." }), false},
		{"deployment ending in .", "paperclip/a/./coA/api-key", with(func(s *Scope) { s.DeploymentID = "a/." }), false},
		{"prefix with a trailing /", "paperclip//dep/coA/api-key", with(func(s *Scope) { s.Prefix = "paperclip/" }), false},
		{"prefix with ..", "paperclip/../dep/coA/api-key", with(func(s *Scope) { s.Prefix = "paperclip/.." }), false},
		{"name too long", "paperclip/dep/coA/" + strings.Repeat("k", 600), with(func(s *Scope) { s.Key = strings.Repeat("k", 600) }), false},
		{"ARN of another company", "arn:aws:secretsmanager:us-east-1:123456789012:secret:paperclip/dep/coB/api-key-AbCdEf", ok, false},
	} {
		err := CheckTarget(tc.target, tc.scope)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckTarget(%q) = %v, want ok=%v", tc.name, tc.target, err, tc.ok)
			continue
		}
		if err != nil {
			if ledgererr.CodeOf(err) != ledgererr.Forbidden || ProviderCodeOf(err) != CodeScopeViolation ||
				!strings.Contains(ledgererr.MessageOf(err), "drifted outside the derived deployment/company scope") {
				t.Errorf("%s: refusal %v", tc.name, err)
			}
			if strings.Contains(ledgererr.MessageOf(err), tc.target) {
				t.Errorf("%s: the safe message names the target", tc.name)
			}
		}
	}
}

func TestRequestToken(t *testing.T) {
	ref := providers.Ref{CompanyID: "co", SecretID: "sec", Version: 12, Key: "k"}
	a := requestToken("dep", ref, "fp1")
	if len(a) < 32 || len(a) > 64 {
		t.Fatalf("token %q has %d characters; AWS takes 32-64", a, len(a))
	}
	if a != requestToken("dep", ref, "fp1") {
		t.Fatal("the token is not deterministic")
	}
	for name, other := range map[string]string{
		"another value":      requestToken("dep", ref, "fp2"),
		"another deployment": requestToken("dep2", ref, "fp1"),
		"another secret":     requestToken("dep", providers.Ref{CompanyID: "co", SecretID: "sec2", Version: 12}, "fp1"),
		"another version":    requestToken("dep", providers.Ref{CompanyID: "co", SecretID: "sec", Version: 13}, "fp1"),
		"another company":    requestToken("dep", providers.Ref{CompanyID: "co2", SecretID: "sec", Version: 12}, "fp1"),
	} {
		if other == a {
			t.Errorf("%s: same token", name)
		}
	}
	if v, ok := tokenVersion(a); !ok || v != 12 {
		t.Fatalf("tokenVersion(%q) = %d, %v", a, v, ok)
	}
	for _, foreign := range []string{"", "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "0000000012-not-a-token"} {
		if _, ok := tokenVersion(foreign); ok {
			t.Errorf("tokenVersion(%q) took a foreign version id", foreign)
		}
	}
}

func validConfig() Config {
	return Config{Region: "us-east-1", DeploymentID: "prod-us-1", Fingerprint: func(string, providers.Value) string { return "fp" }, CacheTTL: time.Minute}
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	multi := validConfig()
	multi.DeploymentID, multi.Prefix = "team/prod", "org/paperclip"
	if err := multi.Validate(); err != nil {
		t.Fatalf("a namespace and a prefix of several segments: %v", err)
	}
	for _, region := range []string{"us-gov-west-1", "eu-central-2", "ap-southeast-1", "cn-north-1"} {
		c := validConfig()
		c.Region = region
		if err := c.Validate(); err != nil {
			t.Errorf("region %s: %v", region, err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"region", func(c *Config) { c.Region = "US-EAST-1" }, "region"},
		{"empty region", func(c *Config) { c.Region = "" }, "region"},
		{"region without number", func(c *Config) { c.Region = "us-east" }, "region"},
		{"deployment id", func(c *Config) { c.DeploymentID = "" }, "deployment id is required"},
		{"deployment id with an empty segment", func(c *Config) { c.DeploymentID = "a//b" }, "deployment id"},
		{"deployment id with a trailing slash", func(c *Config) { c.DeploymentID = "a/" }, "deployment id"},
		{"deployment id too long", func(c *Config) { c.DeploymentID = strings.Repeat("d", 129) }, "deployment id"},
		{"deployment id with space", func(c *Config) { c.DeploymentID = "a b" }, "deployment id"},
		{"deployment id ..", func(c *Config) { c.DeploymentID = ".." }, "deployment id"},
		{"prefix segment", func(c *Config) { c.Prefix = "a//b" }, "prefix"},
		{"prefix chars", func(c *Config) { c.Prefix = "pa per" }, "prefix"},
		{"recovery days low", func(c *Config) { c.DeleteRecoveryDays = 6 }, "7-30"},
		{"recovery days high", func(c *Config) { c.DeleteRecoveryDays = 31 }, "7-30"},
		{"kms key length", func(c *Config) { c.KMSKeyID = strings.Repeat("k", 513) }, "512"},
		{"endpoint", func(c *Config) { c.Endpoint = "localhost:4566" }, "endpoint"},
		{"cache ttl", func(c *Config) { c.CacheTTL = -time.Second }, "cache ttl"},
		{"fingerprint", func(c *Config) { c.Fingerprint = nil }, "fingerprint"},
	} {
		c := validConfig()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want a problem naming %q", tc.name, err, tc.want)
		}
	}
	// Every problem at once.
	err := Config{Region: "nowhere", DeleteRecoveryDays: 99}.Validate()
	for _, want := range []string{"region", "deployment id", "7-30", "fingerprint"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined errors %v lack %q", err, want)
		}
	}
	// Defaults apply before validation.
	c := validConfig().withDefaults()
	if c.Prefix != DefaultPrefix || c.ProviderOwner != DefaultProviderOwner || c.DeleteRecoveryDays != DefaultDeleteRecoveryDays {
		t.Fatalf("defaults: %+v", c)
	}
}

type netErr struct{}

func (netErr) Error() string   { return "dial tcp 10.0.0.1:443: connection refused" }
func (netErr) Timeout() bool   { return false }
func (netErr) Temporary() bool { return false }

var _ net.Error = netErr{}

// Errors that never reached an AWS error code: credentials, timeouts, transport.
func TestClassifyNonAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want mapping
	}{
		{&v4.SigningError{Err: errors.New("failed to retrieve credentials: no EC2 IMDS role found")}, mapCredentials},
		{fmt.Errorf("operation error: %w", context.DeadlineExceeded), mapUnavailable},
		{fmt.Errorf("operation error: %w", netErr{}), mapUnavailable},
		{errors.New("something odd"), mapUnavailable},
		{&smithy.GenericAPIError{Code: "SomethingNew", Message: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}, mapProviderError},
		{&smithy.GenericAPIError{Code: "DecryptionFailure"}, mapKMS},
		{&smithy.GenericAPIError{Code: "LimitExceededException"}, mapLimit},
	} {
		if got, _ := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %+v, want %+v", tc.err, got, tc.want)
		}
	}
}

func TestValueCacheTTLAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newValueCache(time.Minute)
	c.c.SetClock(func() time.Time { return now })
	c.put("n", "v1", providers.NewValue([]byte("x")))
	if _, ok := c.get("n", "v1"); !ok {
		t.Fatal("miss right after put")
	}
	now = now.Add(61 * time.Second)
	if _, ok := c.get("n", "v1"); ok {
		t.Fatal("hit after the TTL")
	}
	for i := range cacheSize + 10 {
		c.put("n", fmt.Sprint(i), providers.NewValue([]byte("x")))
	}
	if c.c.Len() != cacheSize {
		t.Fatalf("cache holds %d entries, bound is %d", c.c.Len(), cacheSize)
	}
	if _, ok := c.get("n", "0"); ok {
		t.Fatal("the least recently used entry was kept")
	}
	c.drop("n", "")
	if c.c.Len() != 0 {
		t.Fatal("drop of a name left entries")
	}
	off := newValueCache(0)
	off.put("n", "v", providers.NewValue([]byte("x")))
	if _, ok := off.get("n", "v"); ok {
		t.Fatal("TTL 0 cached")
	}
}

// Providers of one region and endpoint share one SDK client; another region or
// endpoint gets its own.
func TestClientsAreSharedPerRegionAndEndpoint(t *testing.T) {
	creds := WithCredentials(credentials.NewStaticCredentialsProvider("AKIDSHARE", "secret", ""))
	mk := func(region, endpoint, deployment string) *Provider {
		c := validConfig()
		c.Region, c.Endpoint, c.DeploymentID = region, endpoint, deployment
		p, err := New(context.Background(), c, creds)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	a := mk("eu-west-1", "http://127.0.0.1:1", "vault-a")
	b := mk("eu-west-1", "http://127.0.0.1:1", "vault-b")
	c := mk("eu-west-2", "http://127.0.0.1:1", "vault-a")
	d := mk("eu-west-1", "http://127.0.0.1:2", "vault-a")
	if a.c != b.c {
		t.Fatal("two vaults in one region and endpoint have two clients")
	}
	if a.c == c.c || a.c == d.c {
		t.Fatal("another region or endpoint shares a client")
	}
}

func TestCheckNamePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string // part of the problem, "" when the path is fine
	}{
		{"prod", ""},
		{"team/prod", ""},
		{"a/b/c_d+e=f.g@h-i", ""},
		{"..a", ""},
		{strings.Repeat("n", 20), ""},
		{"", "1 to 20"},
		{strings.Repeat("n", 21), "1 to 20"},
		{"a b", "1 to 20"},
		{"a:b", "1 to 20"},
		{"..", "'.' or '..'"},
		{".", "'.' or '..'"},
		{"a/../b", "'.' or '..'"},
		{"a/.", "'.' or '..'"},
		{"a//b", "'//'"},
		{"/a", "'/'"},
		{"a/", "'/'"},
		{"/", "'/'"},
	} {
		got := CheckNamePath(tc.path, 20)
		if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
			t.Errorf("CheckNamePath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
