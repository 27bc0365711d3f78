package awssm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

func TestCheckExternal(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	for _, tc := range []struct {
		ref     string
		refused bool
	}{
		{"/paperclip-bench/anthropic_api_key", false},
		{"team/db-password", false},
		{arn + "team/db-password-AbC123", false},
		{"paperclip/other-dep/co/key", false},
		{"paperclip/dep-test/co/key", true},
		{"/paperclip/dep-test/co/key", true},
		{arn + "paperclip/dep-test/co/key-AbC123", true},
		{"paperclip/dep-test", false}, // the namespace's own name is not inside it
		{"", true},
		{strings.Repeat("a", awssm.MaxExternalRefLength+1), true},
	} {
		err := awssm.CheckExternal(tc.ref, "paperclip", "dep-test")
		if (err != nil) != tc.refused || (err != nil && ledgererr.CodeOf(err) != ledgererr.Invalid) {
			t.Errorf("CheckExternal(%.60q) = %v, refused want %v", tc.ref, err, tc.refused)
		}
	}
	if err := awssm.CheckExternal("paperclip/dep-test/co/key", "paperclip", "dep-test"); ledgererr.MessageOf(err) !=
		"Paperclip-managed namespace secrets cannot be imported as external references" {
		t.Fatalf("message %q", ledgererr.MessageOf(err))
	}
	if got := awssm.RefName(arn + "team/db-AbC123"); got != "team/db" {
		t.Fatalf("RefName = %q", got)
	}
	if got := awssm.RefName("team/db-password"); got != "team/db-password" {
		t.Fatalf("RefName(name) = %q", got)
	}
}

func TestExternalReferenceResolvesByRefAndVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	arns := e.fake.Seed(awsfake.Seeded{Name: "team/api-key", Value: "ext-v1"})
	pinned := e.fake.CurrentVersion("team/api-key")
	e.fake.PutValue("team/api-key", "ext-v2")
	ctx := context.Background()
	ref := newRef("imported")
	ref.ExternalRef = arns[0]
	// Unpinned: AWSCURRENT, read again every time (a rotation at AWS shows at once).
	mustResolve(t, e.p, ref, "", "ext-v2")
	e.fake.PutValue("team/api-key", "ext-v3")
	mustResolve(t, e.p, ref, "", "ext-v3")
	// Pinned: that VersionId, cached.
	mustResolve(t, e.p, ref, pinned, "ext-v1")
	before := e.fake.Calls("GetSecretValue")
	mustResolve(t, e.p, ref, pinned, "ext-v1")
	if e.fake.Calls("GetSecretValue") != before {
		t.Fatal("a pinned external version was not cached")
	}
	// By name too, and through ResolveMany next to nothing else.
	byName := ref
	byName.ExternalRef = "team/api-key"
	res := e.p.ResolveMany(ctx, "co-1", []providers.VersionRequest{{Ref: byName}, {Ref: ref, ProviderVersionRef: pinned}})
	if res[0].Err != nil || string(res[0].Value.Reveal()) != "ext-v3" || res[1].Err != nil || string(res[1].Value.Reveal()) != "ext-v1" {
		t.Fatalf("ResolveMany: %v %v", res[0].Err, res[1].Err)
	}
	// A reference inside the managed namespace is refused without a call.
	calls := e.fake.TotalCalls()
	managed := ref
	managed.ExternalRef = "paperclip/dep-test/co-1/x"
	if _, err := e.p.Resolve(ctx, managed, ""); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("managed namespace read: %v", err)
	}
	if e.fake.TotalCalls() != calls {
		t.Fatal("the guardrail let a call through")
	}
	// Denied reads map to access_denied with a safe message.
	e.fake.Inject("GetSecretValue", awsfake.Error("AccessDeniedException"), 1)
	_, err := e.p.Resolve(ctx, ref, "")
	safe(t, err, ledgererr.Forbidden, awssm.CodeAccessDenied)
	if providers.ProviderCodeOf(err) != awssm.CodeAccessDenied {
		t.Fatal("providers.ProviderCodeOf does not see the AWS code")
	}
	if _, err := e.p.Link(ctx, ref, "paperclip/dep-test/co-1/x", ""); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("Link of a managed-namespace ref: %v", err)
	}
}

func TestListPagesTheInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var seeds []awsfake.Seeded
	for i := range 25 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("team/s%02d", i), Value: "v", Description: "private words",
			KMSKeyID: "arn:aws:kms:us-east-1:999999999999:key/other", Tags: []awsfake.Tag{{Key: "owner", Value: "tag-value-secret"}}})
	}
	seeds[0].Tags = []awsfake.Tag{{Key: awssm.TagManagedBy, Value: "tag-value-secret"}}
	seeds = append(seeds, awsfake.Seeded{Name: "other/x", Value: "v"}, awsfake.Seeded{Name: "team/gone", Value: "v", Deleted: true})
	e.fake.Seed(seeds...)
	ctx := context.Background()
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		page, err := e.p.List(ctx, "team", token, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range page.Secrets {
			if seen[s.Name] {
				t.Fatalf("%s listed twice", s.Name)
			}
			seen[s.Name] = true
			if !s.HasDescription || !s.HasKMSKey || s.TagCount != 1 || s.CreatedDate == nil || s.Ref != s.Name || s.Managed != (s.Name == "team/s00") {
				t.Fatalf("metadata of %s: %+v", s.Name, s)
			}
			if out := fmt.Sprintf("%+v", s); strings.Contains(out, "private") || strings.Contains(out, "tag-value-secret") || strings.Contains(out, "999999999999") ||
				strings.Contains(out, awsfake.Account) || strings.Contains(out, "arn:") {
				t.Fatalf("metadata leaks: %s", out)
			}
		}
		if token = page.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 25 || pages != 3 || seen["team/gone"] || seen["other/x"] {
		t.Fatalf("listed %d secrets in %d pages: %v", len(seen), pages, seen)
	}
	if n := e.fake.Calls("GetSecretValue") + e.fake.Calls("BatchGetSecretValue"); n != 0 {
		t.Fatalf("%d value reads while listing", n)
	}
	// Failures: a stale cursor, a denial, throttling; each with the runbook's hint.
	_, err := e.p.List(ctx, "", "bm90LWEtdG9rZW4=", 10)
	safe(t, err, ledgererr.Invalid, awssm.CodeInvalidRequest)
	if !strings.Contains(ledgererr.MessageOf(err), "refresh the preview") {
		t.Fatalf("stale cursor message %q", ledgererr.MessageOf(err))
	}
	e.fake.Inject("ListSecrets", awsfake.Error("AccessDeniedException"), 1)
	_, err = e.p.List(ctx, "", "", 10)
	safe(t, err, ledgererr.Forbidden, awssm.CodeAccessDenied)
	if !strings.Contains(ledgererr.MessageOf(err), "secretsmanager:ListSecrets") {
		t.Fatalf("denied message %q", ledgererr.MessageOf(err))
	}
	e.fake.Inject("ListSecrets", awsfake.Throttling(), 5)
	_, err = e.p.List(ctx, "", "", 10)
	safe(t, err, ledgererr.TooManyRequests, awssm.CodeThrottled)
	if !strings.Contains(ledgererr.MessageOf(err), "narrow the search") {
		t.Fatalf("throttled message %q", ledgererr.MessageOf(err))
	}
	for _, bad := range []struct {
		q, tok string
		n      int
	}{{"", "", 0}, {"", "", 101}, {strings.Repeat("q", 201), "", 10}, {"", strings.Repeat("t", 4097), 10}} {
		if _, err := e.p.List(ctx, bad.q, bad.tok, bad.n); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Fatalf("List(%d, %d, %d) = %v", len(bad.q), len(bad.tok), bad.n, err)
		}
	}
}

// The managed-by tag is read with DescribeSecret (never a value), by name or ARN, and
// cached; a cache of zero asks again every time, so a tag added later shows at once.
// A secret that does not exist is not managed; a denial is an error the caller refuses.
func TestManagedByLedgerReadsTheTag(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	arns := e.fake.Seed(awsfake.Seeded{Name: "team/tagged", Value: "v", Tags: []awsfake.Tag{{Key: awssm.TagManagedBy, Value: "other"}}},
		awsfake.Seeded{Name: "team/plain", Value: "v", Tags: []awsfake.Tag{{Key: "owner", Value: "me"}}})
	ctx := context.Background()
	for _, tc := range []struct {
		ref     string
		managed bool
	}{{"team/tagged", true}, {arns[0], true}, {"team/plain", false}, {"team/missing", false}} {
		if managed, err := e.p.ManagedByLedger(ctx, tc.ref); err != nil || managed != tc.managed {
			t.Fatalf("ManagedByLedger(%s) = %v, %v", tc.ref, managed, err)
		}
	}
	describes := e.fake.Calls("DescribeSecret")
	if _, err := e.p.ManagedByLedger(ctx, "team/plain"); err != nil || e.fake.Calls("DescribeSecret") != describes {
		t.Fatalf("not cached: %v, %d calls", err, e.fake.Calls("DescribeSecret")-describes)
	}
	if n := e.fake.Calls("GetSecretValue") + e.fake.Calls("BatchGetSecretValue"); n != 0 {
		t.Fatalf("%d value reads for a tag check", n)
	}

	uncached := newEnv(t, func(c *awssm.Config) { c.CacheTTL = 0 })
	uncached.fake.Seed(awsfake.Seeded{Name: "team/later", Value: "v"})
	if managed, err := uncached.p.ManagedByLedger(ctx, "team/later"); err != nil || managed {
		t.Fatalf("before the tag: %v %v", managed, err)
	}
	uncached.fake.SetTag("team/later", awssm.TagManagedBy, "paperclip")
	if managed, err := uncached.p.ManagedByLedger(ctx, "team/later"); err != nil || !managed {
		t.Fatalf("after the tag: %v %v", managed, err)
	}
	uncached.fake.Inject("DescribeSecret", awsfake.Error("AccessDeniedException"), 1)
	_, err := uncached.p.ManagedByLedger(ctx, "team/later")
	safe(t, err, ledgererr.Forbidden, awssm.CodeAccessDenied)

	if err := awssm.CheckExternal("paperclip/dep-test/co/key", "paperclip", "dep-test"); providers.ProviderCodeOf(err) != providers.CodeGuardrail {
		t.Fatalf("the managed-namespace refusal carries provider code %q", providers.ProviderCodeOf(err))
	}
}
