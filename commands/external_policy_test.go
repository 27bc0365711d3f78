package commands

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

func TestDecidePolicy(t *testing.T) {
	t.Parallel()
	many := func(n int, s string) []string { return strings.Split(strings.Repeat(s+",", n)[:n*(len(s)+1)-1], ",") }
	for _, tc := range []struct {
		name string
		in   ExternalPolicy
		want string // "" accepted; else a part of the message
	}{
		{"empty approves nothing", ExternalPolicy{}, ""},
		{"prefixes and references", ExternalPolicy{Prefixes: []string{" team-b/ ", "team-b/", "ops/"},
			References: []string{"arn:aws:secretsmanager:us-east-1:123456789012:secret:legacy/db-AbCdEf"},
			Regions:    []string{"eu-west-1"}, Namespaces: []string{"team-b"}}, ""},
		{"star in a prefix", ExternalPolicy{Prefixes: []string{"*"}}, "holds '*'"},
		{"star inside a prefix", ExternalPolicy{Prefixes: []string{"team-*/"}}, "holds '*'"},
		{"empty prefix", ExternalPolicy{Prefixes: []string{"  "}}, "an entry is empty"},
		{"space in a prefix", ExternalPolicy{Prefixes: []string{"team b/"}}, "character AWS does not allow"},
		{"colon in a prefix", ExternalPolicy{Prefixes: []string{"arn:aws:"}}, "character AWS does not allow"},
		{"long prefix", ExternalPolicy{Prefixes: []string{strings.Repeat("a", MaxPolicyPrefix+1)}}, "longer than 512"},
		{"too many prefixes", ExternalPolicy{Prefixes: many(MaxPolicyPrefixes+1, "p")}, "at most 100 entries"},
		{"too many references", ExternalPolicy{References: many(MaxPolicyReferences+1, "r")}, "at most 1000 entries"},
		{"bad region", ExternalPolicy{Regions: []string{"mars-1"}}, "regions"},
		{"bad namespace", ExternalPolicy{Namespaces: []string{"a b"}}, "namespaces"},
	} {
		got, err := decidePolicy(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(ledgererr.MessageOf(err), tc.want)):
			t.Errorf("%s: %v, want EINVALID with %q", tc.name, err, tc.want)
		case tc.name == "prefixes and references" && strings.Join(got.Prefixes, ",") != "team-b/,ops/":
			t.Errorf("prefixes are not trimmed and deduplicated: %q", got.Prefixes)
		}
	}
}

func TestDecideExternalRef(t *testing.T) {
	t.Parallel()
	policy := policyState{set: true, policy: ExternalPolicy{Prefixes: []string{"team-b/"},
		References: []string{"arn:aws:secretsmanager:us-east-1:123456789012:secret:legacy/db-AbCdEf"}}}
	for _, tc := range []struct {
		name     string
		st       policyState
		instance []string
		ref      string
		ok       bool
	}{
		{"nothing approved", policyState{}, nil, "prod/billing/db-password", false},
		{"under a prefix", policy, nil, "team-b/api", true},
		{"an ARN under a prefix", policy, nil, "arn:aws:secretsmanager:us-east-1:123456789012:secret:team-b/api-AbCdEf", true},
		{"outside the prefixes", policy, nil, "prod/billing/db-password", false},
		{"a look-alike prefix", policy, nil, "team-bad/api", false},
		{"the exact reference by name", policy, nil, "legacy/db", true},
		{"the exact reference itself", policy, nil, "arn:aws:secretsmanager:us-east-1:123456789012:secret:legacy/db-AbCdEf", true},
		{"under an exact reference", policy, nil, "legacy/db/other", false},
		{"the instance's prefix", policyState{}, []string{"shared/"}, "shared/x", true},
		{"the instance's star", policyState{}, []string{AnyExternalRef}, "prod/billing/db-password", true},
		{"outside the instance's prefix", policy, []string{"shared/"}, "prod/x", false},
	} {
		err := decideExternalRef(tc.st, tc.instance, tc.ref, awssm.RefName)
		if (err == nil) != tc.ok || (err != nil && (ledgererr.ReasonOf(err) != ReasonExternalNotApproved ||
			ledgererr.CodeOf(err) != ledgererr.Invalid)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestDecideVaultPolicyAndActor(t *testing.T) {
	t.Parallel()
	set := policyState{set: true, policy: ExternalPolicy{Regions: []string{"eu-west-1"}, Namespaces: []string{"team-b"}}}
	for _, tc := range []struct {
		name    string
		st      policyState
		cfg     map[string]string
		reason  string
		limited bool
	}{
		{"no policy: not restricted here", policyState{}, map[string]string{"region": "us-east-1", "namespace": "x"}, "", false},
		{"no policy, a limited token's namespace", policyState{}, map[string]string{"region": "us-east-1", "namespace": "x"}, ReasonVaultNamespaceRefused, true},
		{"no policy, a limited token without one", policyState{}, map[string]string{"region": "us-east-1"}, "", true},
		{"a limited token's approved namespace", set, map[string]string{"region": "eu-west-1", "namespace": "team-b"}, "", true},
		{"a limited token's name prefix", set, map[string]string{"region": "eu-west-1", "namespace": "team-b", "secretNamePrefix": "shared"}, ReasonVaultNamespaceRefused, true},
		{"an instance token's name prefix", policyState{}, map[string]string{"region": "eu-west-1", "secretNamePrefix": "shared"}, "", false},
		{"approved region, no namespace", set, map[string]string{"region": "eu-west-1"}, "", false},
		{"approved both", set, map[string]string{"region": "eu-west-1", "namespace": "team-b"}, "", false},
		{"another region", set, map[string]string{"region": "us-east-1"}, ReasonVaultRegionRefused, false},
		{"another namespace", set, map[string]string{"region": "eu-west-1", "namespace": "team-a"}, ReasonVaultNamespaceRefused, false},
	} {
		if err := decideVaultPolicy(tc.st, providers.AWSSecretsManager, tc.cfg, tc.limited); ledgererr.ReasonOf(err) != tc.reason {
			t.Errorf("%s: %v, want reason %q", tc.name, err, tc.reason)
		}
	}
	if err := decideVaultPolicy(set, providers.LocalEncrypted, map[string]string{}, true); err != nil {
		t.Errorf("a local vault: %v", err)
	}
	for _, tc := range []struct {
		a      actor.Actor
		code   ledgererr.Code
		reason string
	}{
		{actor.Actor{Type: actor.Board}, "", ""},
		{actor.Actor{Type: actor.Board, Companies: []string{"b"}}, ledgererr.Forbidden, ReasonPolicyInstanceOnly},
		{actor.Actor{Type: actor.Board, Companies: []string{"a"}}, ledgererr.NotFound, ""},
		{actor.Actor{Type: actor.Agent, Companies: []string{"b"}}, ledgererr.Forbidden, ""},
	} {
		if err := checkPolicyActor(tc.a, "b"); ledgererr.CodeOf(err) != tc.code || ledgererr.ReasonOf(err) != tc.reason {
			t.Errorf("%+v: %v", tc.a, err)
		}
	}
	for in, ok := range map[string]bool{"*": true, "team/, ops/": true, "*, team/": false, "team/*": false, "a b": false} {
		if _, err := CheckInstancePrefixes(in); (err == nil) != ok {
			t.Errorf("CheckInstancePrefixes(%q): %v", in, err)
		}
	}
}

// A company links, imports and resolves only what its policy approves; a refusal is
// recorded in its log; withdrawing an approval stops resolution.
func TestExternalPolicyEnforced(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	f.cfg.ExternalPrefixes = nil
	ctx := context.Background()
	fake.Seed(awsfake.Seeded{Name: "prod/billing/db-password", Value: "billing"}, awsfake.Seeded{Name: "team-b/api", Value: "team-b-value"})
	link := func(ref string) error {
		_, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: ref, ManagedMode: ExternalReference,
			Provider: providers.AWSSecretsManager, ExternalRef: ref})
		return err
	}
	refuseWithoutPolicyThenSetOne(t, ctx, f, link)
	createdID := refuseOutsideThePrefix(t, ctx, f, fake, link)

	// The refusals (link, import, rotation; none for the previews) are in the company's log.
	checkRefusalsRecorded(t, ctx, f)

	// Bound and resolved; the approval withdrawn, resolution stops and says why.
	resolveThenWithdrawApproval(t, ctx, f, fake, createdID)
}

// refuseWithoutPolicyThenSetOne checks that nothing external is approved before a policy,
// that only an instance-wide token may set one, and sets the prefix team-b/.
func refuseWithoutPolicyThenSetOne(t *testing.T, ctx context.Context, f *fixture, link func(string) error) {
	t.Helper()
	if err := link("team-b/api"); ledgererr.ReasonOf(err) != ReasonExternalNotApproved || ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("link without a policy: %v", err)
	}
	if _, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"}); ledgererr.ReasonOf(err) != ReasonExternalNotApproved {
		t.Fatalf("preview without a policy: %v", err)
	}
	limited := Request{Actor: actor.Actor{Type: actor.Board, ID: "limited", Companies: []string{"co"}}}
	if _, err := f.h().SetPolicy(ctx, limited, SetExternalPolicy{CompanyID: "co", Policy: ExternalPolicy{Prefixes: []string{"prod/"}}}); ledgererr.ReasonOf(err) != ReasonPolicyInstanceOnly {
		t.Fatalf("a company-limited token set the policy: %v", err)
	}
	res, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "co", Policy: ExternalPolicy{Prefixes: []string{"team-b/"}}})
	if err != nil || res.Version != 1 {
		t.Fatalf("set: %+v %v", res, err)
	}
	stale := int64(0)
	if _, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "co", Version: &stale}); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("a stale version: %v", err)
	}
}

// refuseOutsideThePrefix checks that link, import, preview and rotation stay inside the
// approved prefix, and returns the secret linked inside it.
func refuseOutsideThePrefix(t *testing.T, ctx context.Context, f *fixture, fake *awsfake.Server, link func(string) error) string {
	t.Helper()
	if err := link("prod/billing/db-password"); ledgererr.ReasonOf(err) != ReasonExternalNotApproved {
		t.Fatalf("link outside the prefix: %v", err)
	}
	describes := fake.Calls("DescribeSecret")
	imp, err := f.h().Import(ctx, board, ImportSecrets{CompanyID: "co", Rows: []ImportRow{{ExternalRef: fake.ARN("prod/billing/db-password")}}})
	if err != nil || imp.Rows[0].Reason != ReasonExternalNotApproved {
		t.Fatalf("import outside the prefix: %+v %v", imp, err)
	}
	if n := fake.Calls("DescribeSecret") - describes; n != 0 {
		t.Fatalf("an import row outside the policy cost %d DescribeSecret calls: AWS's answer would tell what the company may not see", n)
	}
	page, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"})
	if err != nil || len(page.Candidates) != 1 || page.Candidates[0].RemoteName != "team-b/api" {
		t.Fatalf("preview shows more than the approved prefix: %+v %v", page.Candidates, err)
	}
	created, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "api", ManagedMode: ExternalReference,
		Provider: providers.AWSSecretsManager, ExternalRef: "team-b/api"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Rotate(ctx, board, RotateSecret{SecretID: created.SecretID, ExternalRef: "prod/billing/db-password"}); ledgererr.ReasonOf(err) != ReasonExternalNotApproved {
		t.Fatalf("rotation out of the prefix: %v", err)
	}
	return created.SecretID
}

func checkRefusalsRecorded(t *testing.T, ctx context.Context, f *fixture) {
	t.Helper()
	// Refusals are appended unversioned: the stream reads them, in order, once the
	// sealer numbered them.
	if _, err := f.store.SealedThrough(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.ReadStream(ctx, events.ExternalRefusalStream("co"), 0, 10)
	if err != nil || len(evs) != 4 {
		t.Fatalf("%d refusals recorded (%v)", len(evs), err)
	}
	var r events.ExternalReferenceRefusedV1
	if err := json.Unmarshal(evs[1].Payload, &r); err != nil || r.ExternalRef != "prod/billing/db-password" || r.Operation != RefusedLink ||
		r.Reason != ReasonExternalNotApproved || evs[1].Metadata.ActorID != "test" || evs[1].CompanyID != "co" {
		t.Fatalf("refusal %+v %+v (%v)", r, evs[1].Metadata, err)
	}
}

func resolveThenWithdrawApproval(t *testing.T, ctx context.Context, f *fixture, fake *awsfake.Server, secretID string) {
	t.Helper()
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: secretID, ConfigPath: "env.API"}); err != nil {
		t.Fatal(err)
	}
	agent := f.agentFor(t, x)
	if out, err := f.h().ResolveValues(ctx, agent, Resolve{}); err != nil || string(out.Env["API"].Reveal()) != "team-b-value" {
		t.Fatalf("resolution under the approved prefix: %v", err)
	}
	reads := valueReads(fake)
	if _, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "co", Policy: ExternalPolicy{Prefixes: []string{"other/"}}}); err != nil {
		t.Fatal(err)
	}
	_, err := f.h().ResolveValues(ctx, agent, Resolve{})
	if err == nil || !strings.Contains(ledgererr.MessageOf(err), "env.API: "+ReasonExternalNotApproved) || valueReads(fake) != reads {
		t.Fatalf("resolution after the withdrawal: %v (%d reads)", err, valueReads(fake)-reads)
	}
	var outcome string
	if err := f.pool.QueryRow(ctx, `SELECT payload->>'outcome' FROM ledger_log WHERE event_type = 'secret.accessed'
		ORDER BY position DESC LIMIT 1`).Scan(&outcome); err != nil || outcome != ReasonExternalNotApproved {
		t.Fatalf("access outcome %q (%v)", outcome, err)
	}
}

// At upgrade, what a company held is approved as exact references, once.
func TestApproveHeld(t *testing.T) {
	t.Parallel()
	f, _ := awsFixture(t)
	ctx := context.Background()
	held := map[string]ExternalPolicy{"co": {References: []string{"legacy/db"}, Regions: []string{"eu-west-1"}}, "set": {References: []string{"x"}}}
	if _, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "set", Policy: ExternalPolicy{Prefixes: []string{"own/"}}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 0} {
		if n, err := f.h().ApproveHeld(ctx, held); err != nil || n != want {
			t.Fatalf("run %d: %d policies written (%v)", i, n, err)
		}
	}
	st, err := f.h().loadPolicy(ctx, "co")
	if err != nil || st.streamVersion != 1 || strings.Join(st.policy.References, ",") != "legacy/db" || len(st.policy.Prefixes) != 0 {
		t.Fatalf("upgrade policy: %+v %v", st, err)
	}
	if own, err := f.h().loadPolicy(ctx, "set"); err != nil || own.streamVersion != 1 || own.policy.Prefixes[0] != "own/" {
		t.Fatalf("an operator's policy was replaced: %+v %v", own, err)
	}
}

type codedStub string

func (c codedStub) Error() string        { return string(c) }
func (c codedStub) ProviderCode() string { return string(c) }

// The refusals recorded are the policy's and the guardrail's, whether the guardrail says
// so by reason or by provider code; others are not.
func TestRecordedRefusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errNothingApproved(), true},
		{awssm.ErrManagedNamespace, true},
		{ledgererr.Wrap(codedStub("provider_guardrail"), ledgererr.Invalid, "managed"), true},
		{ledgererr.Wrap(codedStub("access_denied"), ledgererr.Forbidden, "denied"), false},
		{ledgererr.New(ledgererr.Conflict, "a secret with this name already exists"), false},
	} {
		if got := recordedRefusal(tc.err); got != tc.want {
			t.Errorf("recordedRefusal(%v) = %v", tc.err, got)
		}
	}
}

// A withdrawal made by another process stops resolution here at once: this process's
// memory still holds the old policy, but the access append is conditional on the
// policy's version, so the resolution is decided again on the new one.
func TestPolicyWithdrawnElsewhere(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	f.cfg.ExternalPrefixes = nil
	ctx := context.Background()
	fake.Seed(awsfake.Seeded{Name: "team-b/api", Value: "team-b-value"})
	if _, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "co", Policy: ExternalPolicy{Prefixes: []string{"team-b/"}}}); err != nil {
		t.Fatal(err)
	}
	created, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "api", ManagedMode: ExternalReference,
		Provider: providers.AWSSecretsManager, ExternalRef: "team-b/api"})
	if err != nil {
		t.Fatal(err)
	}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: created.SecretID, ConfigPath: "env.API"}); err != nil {
		t.Fatal(err)
	}
	agent := f.agentFor(t, x)
	// other is another process: the log's appends are not observed by its memory.
	other := f.over(newRuntime(f.store, keyHashes{key: testKey}))
	if _, err := other.ResolveValues(ctx, agent, Resolve{}); err != nil {
		t.Fatalf("before the withdrawal: %v", err)
	}
	if _, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "co"}); err != nil {
		t.Fatal(err)
	}
	if cached, ok := other.mem.policies.cached(events.ExternalPolicyStream("co")); !ok || cached.streamVersion != 1 {
		t.Fatalf("the other process's memory is not behind (%+v): the test proves nothing", cached)
	}
	_, err = other.ResolveValues(ctx, agent, Resolve{})
	if err == nil || !strings.Contains(ledgererr.MessageOf(err), ReasonExternalNotApproved) {
		t.Fatalf("after a withdrawal elsewhere: %v", err)
	}
}
