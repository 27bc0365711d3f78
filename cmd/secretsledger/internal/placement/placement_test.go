package placement

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
	"github.com/secretsledger/secretsledger/queries"
)

const company = "aaaaaaaa-0000-4000-8000-0000000000c1"

// vaultTable is the vaults read model of the tests: what a PATCH wrote is what Get
// answers.
type vaultTable struct {
	mu sync.Mutex
	m  map[string]queries.Vault
}

func (t *vaultTable) set(v queries.Vault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[v.ID] = v
}

func (t *vaultTable) Get(_ context.Context, _ actor.Actor, id string) (queries.Vault, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[id]
	if !ok {
		return queries.Vault{}, ledgererr.New(ledgererr.NotFound, "provider vault not found")
	}
	return v, nil
}

func (t *vaultTable) Default(context.Context, string, string) (queries.Vault, bool, error) {
	return queries.Vault{}, false, nil
}

func (t *vaultTable) RemoteVaultConfigs(context.Context) ([]queries.Vault, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []queries.Vault
	for _, v := range t.m {
		if v.Provider == providers.AWSSecretsManager || v.Provider == providers.HashiCorpVault {
			out = append(out, queries.Vault{ID: v.ID, Provider: v.Provider, Config: v.Config})
		}
	}
	return out, nil
}

// closeSpy counts the Close calls of an instance placement built.
type closeSpy struct {
	providers.Provider
	closed atomic.Int32
}

func (c *closeSpy) Close() error {
	c.closed.Add(1)
	return c.Provider.(*awssm.Provider).Close()
}

type fixture struct {
	fake   *awsfake.Server
	vaults *vaultTable
	p      *Placer
	mu     sync.Mutex
	built  []*closeSpy
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{fake: awsfake.New(t, "us-east-1"), vaults: &vaultTable{m: map[string]queries.Vault{}}}
	creds := credentials.NewStaticCredentialsProvider("AKIDTESTFAKE", "fake-secret-access-key", "")
	f.p = &Placer{Vaults: f.vaults, Deployment: map[string]providers.Provider{}, DefaultProvider: providers.LocalEncrypted,
		AWSDefaults: awssm.Config{Endpoint: f.fake.URL, CacheTTL: time.Minute,
			Fingerprint: func(company string, v providers.Value) string { return fmt.Sprintf("fp-%s-%d", company, v.Len()) }},
		AWS: func(ctx context.Context, cfg awssm.Config) (providers.Provider, error) {
			inst, err := awssm.New(ctx, cfg, awssm.WithCredentials(creds), awssm.WithGetenv(func(string) string { return "" }))
			if err != nil {
				return nil, err
			}
			spy := &closeSpy{Provider: inst}
			f.mu.Lock()
			f.built = append(f.built, spy)
			f.mu.Unlock()
			return spy, nil
		}, AWSVaults: true}
	t.Cleanup(f.p.Close)
	return f
}

func (f *fixture) instances() []*closeSpy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*closeSpy(nil), f.built...)
}

func awsVault(id string, cfg map[string]string) queries.Vault {
	return queries.Vault{ID: id, CompanyID: company, Provider: providers.AWSSecretsManager, Status: commands.VaultReady, Config: cfg}
}

// settledGoroutines polls until the goroutine count is at most limit (goroutines of
// closed instances and idle connections wind down asynchronously) and returns the last
// count seen.
func settledGoroutines(limit int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

// Every PATCH of an AWS vault's config followed by a health check used to build a new
// instance (a Commit retry goroutine and a value cache) and keep the old one forever.
// Instances are kept by vault id: the one a new config replaces is closed (its cache
// wiped, its goroutine stopped), so cycles do not grow the goroutine count.
func TestReplacedInstancesAreClosed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const cycles = 100
	check := func(i int) {
		v := awsVault("V1", map[string]string{"region": "us-east-1", "namespace": fmt.Sprintf("ns-%d", i)})
		f.vaults.set(v) // the PATCH
		status, msg, _ := f.p.Check(ctx, commands.Vault{ID: v.ID, CompanyID: company, Provider: v.Provider, Config: v.Config})
		if status == "error" {
			t.Fatalf("cycle %d: health %s %s", i, status, msg)
		}
	}
	check(0)
	// A value in the first instance's cache: it must not outlive the instance.
	place, err := f.p.Place(ctx, actor.Actor{Type: actor.Board, ID: "t"}, company, "", "V1")
	if err != nil {
		t.Fatal(err)
	}
	ref := providers.Ref{CompanyID: company, SecretID: "S1", Version: 1, Key: "api-key"}
	if _, err := place.Provider.Put(ctx, ref, providers.NewValue([]byte("plaintext"))); err != nil {
		t.Fatal(err)
	}
	baseline := runtime.NumGoroutine()
	for i := 1; i <= cycles; i++ {
		check(i)
	}
	if n := settledGoroutines(baseline + 10); n > baseline+10 {
		t.Fatalf("%d goroutines after %d config changes, %d before: superseded instances were not closed", n, cycles, baseline)
	}
	built := f.instances()
	if len(built) != cycles+1 {
		t.Fatalf("%d instances built for %d configs", len(built), cycles+1)
	}
	for i, inst := range built[:cycles] {
		if inst.closed.Load() != 1 {
			t.Fatalf("instance %d (superseded) closed %d times, want once", i, inst.closed.Load())
		}
	}
	if built[cycles].closed.Load() != 0 {
		t.Fatal("the current instance was closed")
	}
	// The same config again reuses the current instance.
	check(cycles)
	if got := len(f.instances()); got != cycles+1 {
		t.Fatalf("an unchanged config built another instance (%d)", got)
	}
	// Resolution through the first (closed) instance misses its wiped cache.
	if _, err := built[0].Resolve(ctx, ref, f.fake.CurrentVersion("paperclip/ns-0/"+company+"/api-key")); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.Calls("GetSecretValue"); n != 1 {
		t.Fatalf("GetSecretValue called %d times: the closed instance's cache still answered", n)
	}

	f.p.Close()
	if built[cycles].closed.Load() != 1 {
		t.Fatal("Close on shutdown left the current instance open")
	}
	_, err = f.p.Provider(ctx, providers.AWSSecretsManager, "V1")
	if ledgererr.CodeOf(err) != ledgererr.Unavailable {
		t.Fatalf("an instance after shutdown: %v, want EUNAVAILABLE", err)
	}
	if got := len(f.instances()); got != cycles+1 {
		t.Fatal("an instance was built after Close")
	}
}

// A namespace of several segments is usable: the secret lands at
// <prefix>/team/prod/<companyId>/<key>.
func TestMultiSegmentNamespace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.vaults.set(awsVault("V2", map[string]string{"region": "us-east-1", "namespace": "team/prod", "secretNamePrefix": "org/pc"}))
	place, err := f.p.Place(ctx, actor.Actor{Type: actor.Board, ID: "t"}, company, "", "V2")
	if err != nil {
		t.Fatal(err)
	}
	ref := providers.Ref{CompanyID: company, SecretID: "S1", Version: 1, Key: "api-key"}
	stored, err := place.Provider.Put(ctx, ref, providers.NewValue([]byte("v")))
	if err != nil {
		t.Fatalf("Put in a vault of namespace team/prod: %v", err)
	}
	name := "org/pc/team/prod/" + company + "/api-key"
	if !f.fake.Exists(name) {
		t.Fatalf("no secret %s at AWS", name)
	}
	got, err := place.Provider.Resolve(ctx, ref, stored.ProviderVersionRef)
	if err != nil || string(got.Reveal()) != "v" {
		t.Fatalf("Resolve: %v", err)
	}
}

// A vault stored before its config's rules were tightened is a configuration error
// naming the field (422 to the client), never a 503; its health check says the same,
// and no instance is built for it.
func TestStoredUnusableConfigIsInvalidNotUnavailable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct{ key, value string }{
		{"namespace", ".."}, {"namespace", "team//prod"}, {"namespace", "/team"}, {"secretNamePrefix", "a//b"},
	} {
		v := awsVault("OLD", map[string]string{"region": "us-east-1", tc.key: tc.value})
		f.vaults.set(v)
		_, err := f.p.Place(ctx, actor.Actor{Type: actor.Board, ID: "t"}, company, "", "OLD")
		if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(ledgererr.MessageOf(err), "config."+tc.key) {
			t.Errorf("%s=%q: Place = %v, want EINVALID naming config.%s", tc.key, tc.value, err, tc.key)
		}
		_, err = f.p.Provider(ctx, providers.AWSSecretsManager, "OLD")
		if ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("%s=%q: Provider = %v, want EINVALID", tc.key, tc.value, err)
		}
		status, msg, _ := f.p.Check(ctx, commands.Vault{ID: v.ID, Provider: v.Provider, Config: v.Config})
		if status != "error" || !strings.Contains(msg, "config."+tc.key) {
			t.Errorf("%s=%q: health %s %q, want error naming config.%s", tc.key, tc.value, status, msg, tc.key)
		}
	}
	if n := len(f.instances()); n != 0 {
		t.Fatalf("%d instances built for unusable configs", n)
	}
}

// The managed namespaces are the deployment's (when it has a deployment id) and every
// AWS vault's, with the deployment's prefix or the vault's own, and the vault id when
// it sets no namespace.
func TestManagedNamespaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.vaults.set(awsVault("v1", map[string]string{"region": "us-east-1", "namespace": "team/prod"}))
	f.vaults.set(awsVault("v2", map[string]string{"region": "us-east-1", "secretNamePrefix": "acme"}))
	f.vaults.set(queries.Vault{ID: "l1", CompanyID: company, Provider: providers.LocalEncrypted, Status: commands.VaultReady})
	f.p.AWSDefaults.DeploymentID = "dep"
	got, err := f.p.ManagedNamespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"paperclip/dep/": true, "paperclip/team/prod/": true, "acme/v2/": true}
	if len(got) != len(want) {
		t.Fatalf("namespaces %v", got)
	}
	for _, ns := range got {
		if !want[ns] {
			t.Fatalf("namespaces %v", got)
		}
	}
}

// With AWS vaults off, an AWS vault is neither placed into nor resolved from, and no
// instance is built for it.
func TestAWSVaultsOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.p.AWSVaults = false
	f.vaults.set(awsVault("v1", map[string]string{"region": "us-east-1"}))
	_, err := f.p.Place(context.Background(), actor.Actor{Type: actor.Board, ID: "t"}, company, "", "v1")
	if ledgererr.CodeOf(err) != ledgererr.Invalid || providers.ProviderCodeOf(err) != providers.CodeGuardrail {
		t.Fatalf("place: %v", err)
	}
	if _, err := f.p.Provider(context.Background(), providers.AWSSecretsManager, "v1"); providers.ProviderCodeOf(err) != providers.CodeGuardrail {
		t.Fatalf("provider: %v", err)
	}
	if n := len(f.instances()); n != 0 {
		t.Fatalf("%d instances built", n)
	}
}
