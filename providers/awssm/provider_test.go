package awssm_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
	"github.com/secretsledger/secretsledger/providers/providertest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) providers.Provider { return newEnv(t, nil).p })
}

func TestCreateNamesTagsAndKMS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("openai-key")
	s := mustPut(t, e.p, r, "sk-test")
	name := "paperclip/dep-test/co-1/openai-key"
	if e.p.Name(r) != name || !e.fake.Exists(name) {
		t.Fatalf("secret %q not created (derived %q)", name, e.p.Name(r))
	}
	want := map[string]string{"paperclip:managed-by": "paperclip", "paperclip:provider-owner": "paperclip",
		"paperclip:deployment-id": "dep-test", "paperclip:company-id": "co-1", "paperclip:secret-key": "openai-key",
		"paperclip:environment": "test"}
	if got := e.fake.Tags(name); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	if e.fake.KMSKeyID(name) != e.cfg.KMSKeyID {
		t.Fatalf("kms key %q", e.fake.KMSKeyID(name))
	}
	if e.fake.CurrentVersion(name) != s.ProviderVersionRef {
		t.Fatalf("AWSCURRENT %q, stored ref %q", e.fake.CurrentVersion(name), s.ProviderVersionRef)
	}
	if s.Fingerprint != fingerprint("co-1", val("sk-test")) {
		t.Fatal("Stored.Fingerprint is not the injected keyed fingerprint")
	}
	// Without a KMS key the secret gets none (AWS uses aws/secretsmanager).
	e2 := newEnv(t, func(c *awssm.Config) { c.KMSKeyID = "" })
	mustPut(t, e2.p, r, "sk-test")
	if e2.fake.KMSKeyID(name) != "" {
		t.Fatal("a KMS key was sent although none is configured")
	}
}

func TestRotationIsStagedUntilCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r1 := newRef("db-password")
	name := e.p.Name(r1)
	s1 := mustPut(t, e.p, r1, "pw-1")
	s2 := mustPut(t, e.p, at(r1, 2), "pw-2")
	if cur := e.fake.CurrentVersion(name); cur != s1.ProviderVersionRef {
		t.Fatalf("AWSCURRENT moved before the commit: %q", cur)
	}
	if st := e.fake.Stages(name)[s2.ProviderVersionRef]; !slices.Equal(st, []string{awssm.StagePending}) {
		t.Fatalf("v2 stages %v, want only %s", st, awssm.StagePending)
	}
	// The exact version resolves before the commit (from AWS, not the cache).
	mustResolve(t, e.newProvider(t), at(r1, 2), s2.ProviderVersionRef, "pw-2")
	if err := e.p.Commit(ctx, at(r1, 2), s2.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	st := e.fake.Stages(name)
	if !slices.Equal(st[s2.ProviderVersionRef], []string{awsfake.Current}) || !slices.Equal(st[s1.ProviderVersionRef], []string{awsfake.Previous}) {
		t.Fatalf("after commit: %v", st)
	}
	// A repeated commit changes nothing; an older version's late commit does not move
	// AWSCURRENT back.
	if err := e.p.Commit(ctx, at(r1, 2), s2.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	s3 := mustPut(t, e.p, at(r1, 3), "pw-3")
	if err := e.p.Commit(ctx, at(r1, 3), s3.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Commit(ctx, at(r1, 2), s2.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	if cur := e.fake.CurrentVersion(name); cur != s3.ProviderVersionRef {
		t.Fatalf("a late commit of v2 moved AWSCURRENT to %q", cur)
	}
	mustResolve(t, e.p, r1, s1.ProviderVersionRef, "pw-1")
}

func TestPutIsIdempotentPerRefAndValue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("retried")
	name := e.p.Name(r)
	a := mustPut(t, e.p, r, "same")
	b := mustPut(t, e.p, r, "same")
	if a != b || len(e.fake.Stages(name)) != 1 || e.fake.Calls("CreateSecret") != 2 {
		t.Fatalf("retried create: %+v %+v, versions %v", a, b, e.fake.Stages(name))
	}
	c := mustPut(t, e.p, at(r, 2), "two")
	d := mustPut(t, e.p, at(r, 2), "two")
	if c != d || len(e.fake.Stages(name)) != 2 {
		t.Fatalf("retried rotation: %+v %+v, versions %v", c, d, e.fake.Stages(name))
	}
	// After a discarded attempt, the same version number with another value is a new
	// version at AWS, not a conflict.
	if err := e.p.Discard(context.Background(), at(r, 2), c.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	f := mustPut(t, e.p, at(r, 2), "two-again")
	if f.ProviderVersionRef == c.ProviderVersionRef {
		t.Fatal("another value reused the discarded version")
	}
}

func TestResolveCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := newRef("cached")
	s := mustPut(t, e.p, r, "v")
	cold := e.newProvider(t)
	for range 3 {
		mustResolve(t, cold, r, s.ProviderVersionRef, "v")
	}
	if n := e.fake.Calls("GetSecretValue"); n != 1 {
		t.Fatalf("GetSecretValue called %d times with the cache on, want 1", n)
	}
	mustResolve(t, e.p, r, s.ProviderVersionRef, "v") // Put warmed the writer's cache
	if n := e.fake.Calls("GetSecretValue"); n != 1 {
		t.Fatalf("GetSecretValue called %d times after Put warmed the cache", n)
	}

	off := newEnv(t, func(c *awssm.Config) { c.CacheTTL = 0 })
	s = mustPut(t, off.p, r, "v")
	for range 3 {
		mustResolve(t, off.p, r, s.ProviderVersionRef, "v")
	}
	if n := off.fake.Calls("GetSecretValue"); n != 3 {
		t.Fatalf("GetSecretValue called %d times with TTL 0, want 3", n)
	}
}

// A closed provider (a vault's superseded instance) keeps no value in memory: Close
// wipes its cache, and what it still resolves afterwards is not cached again.
func TestCloseWipesTheCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p := e.newProvider(t)
	r := newRef("closed")
	s := mustPut(t, p, r, "v")
	mustResolve(t, p, r, s.ProviderVersionRef, "v")
	if n := e.fake.Calls("GetSecretValue"); n != 0 {
		t.Fatalf("GetSecretValue called %d times; Put should have warmed the cache", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		mustResolve(t, p, r, s.ProviderVersionRef, "v")
		if n := e.fake.Calls("GetSecretValue"); n != want {
			t.Fatalf("GetSecretValue called %d times after Close, want %d: the closed cache answered", n, want)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestResolveManyBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *awssm.Config) { c.CacheTTL = 0 })
	ctx := context.Background()
	var reqs []providers.VersionRequest
	var want []string
	for i := range 25 {
		r := newRef(fmt.Sprintf("batch-%02d", i))
		s := mustPut(t, e.p, r, fmt.Sprintf("value-%02d", i))
		reqs = append(reqs, providers.VersionRequest{Ref: r, ProviderVersionRef: s.ProviderVersionRef})
		want = append(want, fmt.Sprintf("value-%02d", i))
	}
	// A pinned older version of the first secret: not AWSCURRENT, so read by VersionId.
	s2 := mustPut(t, e.p, at(reqs[0].Ref, 2), "value-00-v2")
	if err := e.p.Commit(ctx, at(reqs[0].Ref, 2), s2.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	got := e.p.ResolveMany(ctx, "co-1", reqs)
	for i := range reqs {
		if got[i].Err != nil || string(got[i].Value.Reveal()) != want[i] {
			t.Fatalf("[%d] = %d bytes, %v", i, got[i].Value.Len(), got[i].Err)
		}
	}
	if b, g := e.fake.Calls("BatchGetSecretValue"), e.fake.Calls("GetSecretValue"); b != 2 || g != 1 {
		t.Fatalf("BatchGetSecretValue %d calls (want 2: 20+5), GetSecretValue %d (want 1: the pinned version)", b, g)
	}

	// Another company's ref in the request is refused without a call.
	foreign := reqs[1]
	foreign.Ref.CompanyID = "co-2"
	before := e.fake.TotalCalls()
	res := e.p.ResolveMany(ctx, "co-1", []providers.VersionRequest{foreign})
	if res[0].Err == nil || e.fake.TotalCalls() != before {
		t.Fatalf("foreign ref: %v, %d calls", res[0].Err, e.fake.TotalCalls()-before)
	}

	// Denied BatchGetSecretValue (the seed's minimum policy): one by one instead.
	e.fake.Inject("BatchGetSecretValue", awsfake.Error("AccessDeniedException"), 1)
	gets := e.fake.Calls("GetSecretValue")
	got = e.p.ResolveMany(ctx, "co-1", reqs[:3])
	for i := range 3 {
		if got[i].Err != nil || string(got[i].Value.Reveal()) != want[i] {
			t.Fatalf("fallback [%d] = %v", i, got[i].Err)
		}
	}
	if n := e.fake.Calls("GetSecretValue") - gets; n != 3 {
		t.Fatalf("fallback made %d GetSecretValue calls, want 3", n)
	}

	// A secret scheduled for deletion fails alone, mapped.
	if err := e.p.SoftDelete(ctx, reqs[1].Ref); err != nil {
		t.Fatal(err)
	}
	got = e.p.ResolveMany(ctx, "co-1", reqs[:3])
	if got[0].Err != nil || got[2].Err != nil {
		t.Fatalf("neighbours of a deleted secret failed: %v %v", got[0].Err, got[2].Err)
	}
	safe(t, got[1].Err, ledgererr.Invalid, awssm.CodeInvalidRequest)
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("discard-create")
	s := mustPut(t, e.p, r, "x")
	if err := e.p.Discard(ctx, r, s.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	if e.fake.Exists(e.p.Name(r)) {
		t.Fatal("a discarded create left its secret")
	}

	r = newRef("discard-rotation")
	name := e.p.Name(r)
	s1 := mustPut(t, e.p, r, "one")
	s2 := mustPut(t, e.p, at(r, 2), "two")
	if err := e.p.Discard(ctx, at(r, 2), s2.ProviderVersionRef); err != nil {
		t.Fatal(err)
	}
	st := e.fake.Stages(name)
	if len(st[s2.ProviderVersionRef]) != 0 || e.fake.CurrentVersion(name) != s1.ProviderVersionRef {
		t.Fatalf("after discarding v2: %v", st)
	}

	// A discarded create never deletes a same-named secret it did not write.
	other := r
	other.SecretID = "01HOTHERSECRET000000000000"
	if err := e.p.Discard(ctx, other, "0000000001-aaaaaaaa-bbbb-5ccc-8ddd-eeeeeeeeeeee"); err != nil {
		t.Fatal(err)
	}
	if !e.fake.Exists(name) {
		t.Fatal("Discard deleted a secret whose versions it did not write")
	}
}

func TestSoftDeleteRestoreDestroy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *awssm.Config) { c.DeleteRecoveryDays = 7 })
	ctx := context.Background()
	r := newRef("lifecycle")
	name := e.p.Name(r)
	s := mustPut(t, e.p, r, "v")
	mustResolve(t, e.p, r, s.ProviderVersionRef, "v")
	if err := e.p.SoftDelete(ctx, r); err != nil {
		t.Fatal(err)
	}
	if !e.fake.ScheduledForDeletion(name) {
		t.Fatal("not scheduled for deletion")
	}
	_, err := e.p.Resolve(ctx, r, s.ProviderVersionRef)
	safe(t, err, ledgererr.Invalid, awssm.CodeInvalidRequest)
	if err := e.p.SoftDelete(ctx, r); err != nil {
		t.Fatalf("a repeated soft delete: %v", err)
	}
	if err := e.p.Restore(ctx, r); err != nil {
		t.Fatal(err)
	}
	mustResolve(t, e.p, r, s.ProviderVersionRef, "v")

	// Destroy works on a secret scheduled for deletion, and again on a gone one.
	if err := e.p.SoftDelete(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Destroy(ctx, r); err != nil {
		t.Fatal(err)
	}
	if e.fake.Exists(name) {
		t.Fatal("destroyed secret still exists")
	}
	if err := e.p.Destroy(ctx, r); err != nil {
		t.Fatalf("a repeated destroy: %v", err)
	}
	_, err = e.p.Resolve(ctx, r, s.ProviderVersionRef)
	safe(t, err, ledgererr.NotFound, awssm.CodeNotFound)
	err = e.p.Restore(ctx, r)
	safe(t, err, ledgererr.NotFound, awssm.CodeNotFound)
}

func TestGuardrailRefusesWithoutAnyAWSCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, r := range []providers.Ref{
		{CompanyID: "co-1", SecretID: "s", Version: 2, Key: "../co-2/api-key"},
		{CompanyID: "co-1", SecretID: "s", Version: 2, Key: "a/../../co-2/x"},
		{CompanyID: "co-1/../co-2", SecretID: "s", Version: 2, Key: "api-key"},
		{CompanyID: "co-1/co-2", SecretID: "s", Version: 2, Key: "api-key"},
		{CompanyID: "co-1", SecretID: "s", Version: 2, Key: ".."},
	} {
		for op, call := range map[string]func() error{
			"Put":        func() error { _, err := e.p.Put(ctx, r, val("x")); return err },
			"Commit":     func() error { return e.p.Commit(ctx, r, "v") },
			"Discard":    func() error { return e.p.Discard(ctx, r, "v") },
			"SoftDelete": func() error { return e.p.SoftDelete(ctx, r) },
			"Restore":    func() error { return e.p.Restore(ctx, r) },
			"Destroy":    func() error { return e.p.Destroy(ctx, r) },
			"Resolve":    func() error { _, err := e.p.Resolve(ctx, r, "v"); return err },
		} {
			err := call()
			safe(t, err, ledgererr.Forbidden, awssm.CodeScopeViolation)
			if !strings.Contains(ledgererr.MessageOf(err), "drifted outside the derived deployment/company scope") {
				t.Fatalf("%s %+v: %v", op, r, err)
			}
		}
	}
	// A value without a key (a consumer env value) is refused too.
	if _, err := e.p.Put(ctx, providers.Ref{CompanyID: "co-1", SecretID: "s", Version: 1}, val("x")); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("keyless put: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // a refused Commit must not have been queued either
	if n := e.fake.TotalCalls(); n != 0 {
		t.Fatalf("%d AWS calls after refusals", n)
	}
}

func TestLinkIsMetadataOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s, err := e.p.Link(context.Background(), newRef("ext"), "/paperclip-bench/anthropic_api_key", "v-123")
	if err != nil {
		t.Fatal(err)
	}
	if s.ProviderVersionRef != "v-123" || s.Fingerprint != fingerprint("co-1", val("aws_secrets_manager_v1:/paperclip-bench/anthropic_api_key:v-123")) {
		t.Fatalf("Link stored %+v", s)
	}
	if e.fake.TotalCalls() != 0 {
		t.Fatal("Link called AWS")
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, awssm.WithGetenv(func(k string) string {
		return map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_PROFILE": "dev", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}[k]
	}))
	d := e.p.HealthDetails(context.Background())
	if d.Error != "" || d.CredentialSource != credentials.StaticCredentialsName || d.Region != "us-east-1" || d.DeploymentID != "dep-test" ||
		d.Prefix != "paperclip" || !d.KMSKeyConfigured {
		t.Fatalf("details %+v", d)
	}
	if !slices.Equal(d.DetectedCredentialSources, []string{"env", "profile", "web-identity"}) {
		t.Fatalf("detected %v", d.DetectedCredentialSources)
	}
	m := d.VaultMap(true)
	for _, k := range []string{"region", "prefix", "deploymentId", "kmsKeyConfigured"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("VaultMap lacks %s", k)
		}
	}
	// The instance's credential source and default prefix are not the vault's.
	if _, ok := m["credentialSource"]; ok {
		t.Fatalf("VaultMap holds the credential source: %v", m)
	}
	if _, ok := d.VaultMap(false)["prefix"]; ok {
		t.Fatal("VaultMap(false) holds the instance's prefix")
	}
	h := e.p.Health(context.Background())
	all := strings.Join(h.All(), "\n")
	if !h.OK || !strings.Contains(all, "warning: static AWS_ACCESS_KEY_ID") || strings.Contains(all, "fake-secret-access-key") ||
		strings.Contains(all, "AKIDTESTFAKE") {
		t.Fatalf("health %+v", h)
	}
	if e.fake.TotalCalls() != 0 {
		t.Fatal("the health check called Secrets Manager")
	}

	none := newEnv(t, nil, awssm.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found, operation error ec2imds: GetMetadata")
	})))
	h = none.p.Health(context.Background())
	if h.OK || !strings.Contains(strings.Join(h.Findings, "\n"), "found no credentials") || strings.Contains(strings.Join(h.Findings, "\n"), "IMDS") {
		t.Fatalf("health without credentials %+v", h)
	}
	// And a call without credentials fails safely, before reaching AWS.
	_, err := none.p.Put(context.Background(), newRef("nocreds"), val("x"))
	safe(t, err, ledgererr.Unavailable, awssm.CodeProviderUnavailable)
	if none.fake.TotalCalls() != 0 {
		t.Fatal("an unsigned request reached AWS")
	}
}

func TestConfigErrorsAtNew(t *testing.T) {
	t.Parallel()
	_, err := awssm.New(context.Background(), awssm.Config{Region: "moon-1"})
	if err == nil || !strings.Contains(err.Error(), "region") || !strings.Contains(err.Error(), "deployment id") {
		t.Fatalf("New with a bad config: %v", err)
	}
}
