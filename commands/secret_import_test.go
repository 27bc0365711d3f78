package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
	"github.com/secretsledger/secretsledger/queries"
)

// testDirectory is the commands' Directory over the read models (the ledger's wiring
// has its own adapter; commands may not import it).
type testDirectory struct{ queries.Consumers }

func (d testDirectory) ImportCandidates(ctx context.Context, companyID, vaultID string, names, keys []string) ([]LiveSecret, error) {
	rows, err := d.Consumers.ImportCandidates(ctx, companyID, vaultID, names, keys)
	out := make([]LiveSecret, len(rows))
	for i, r := range rows {
		out[i] = LiveSecret(r)
	}
	return out, err
}

// stubRefs is a guardrail that refuses refs under "managed/" and names refs by their
// last ":"-separated part.
type stubRefs struct{}

func (stubRefs) CheckExternalRef(ref string) error {
	if strings.HasPrefix(stubRefs{}.ExternalRefName(ref), "managed/") {
		return ledgererr.New(ledgererr.Invalid, "Paperclip-managed namespace secrets cannot be imported as external references")
	}
	return nil
}

func (stubRefs) ExternalRefName(ref string) string { return ref[strings.LastIndexByte(ref, ':')+1:] }

func TestImportConflicts(t *testing.T) {
	t.Parallel()
	live := []LiveSecret{
		{ID: "ext", Name: "team/linked", Key: "team-linked", ManagedMode: ExternalReference, ExternalRef: "arn:x:team/linked"},
		{ID: "named", Name: "team/db", Key: "other-key", ManagedMode: ManagedByLedger},
		{ID: "keyed", Name: "Other name", Key: "team-cache", ManagedMode: ManagedByLedger},
	}
	for _, tc := range []struct {
		ref, name, key string
		types          []string
		status         string
	}{
		{"arn:y:team/new", "team/new", "team-new", nil, CandidateReady},
		{"team/linked", "team/linked", "team-linked", []string{ConflictExactReference}, CandidateDuplicate}, // a name denotes the ARN's secret
		{"arn:y:team/db", "team/db", "team-db", []string{ConflictName}, CandidateConflict},
		{"arn:y:team/cache", "team/cache", "team-cache", []string{ConflictKey}, CandidateConflict},
		{"arn:y:managed/x", "managed/x", "managed-x", []string{ConflictGuardrail}, CandidateConflict},
	} {
		cs := importConflicts(stubRefs{}, tc.ref, tc.name, tc.key, live)
		var types []string
		for _, c := range cs {
			types = append(types, c.Type)
		}
		status, importable := candidateStatus(cs)
		if fmt.Sprint(types) != fmt.Sprint(tc.types) || status != tc.status || importable != (tc.status == CandidateReady) {
			t.Errorf("%s: conflicts %v status %s, want %v %s", tc.ref, types, status, tc.types, tc.status)
		}
	}
	// Only live secrets are passed in: a deleted external reference conflicts with nothing.
	if cs := importConflicts(stubRefs{}, "team/linked", "team/linked", "team-linked", nil); len(cs) != 0 {
		t.Fatalf("conflicts without live secrets: %v", cs)
	}
	if name, key := importName("/paperclip-bench/anthropic_api_key"); name != "paperclip-bench/anthropic_api_key" || key != "paperclip-bench-anthropic_api_key" {
		t.Fatalf("importName = %q %q", name, key)
	}
}

// awsFixture is a fixture whose deployment also has an AWS instance on a fake.
func awsFixture(t *testing.T) (*fixture, *awsfake.Server) {
	t.Helper()
	f := newFixture(t)
	fake := awsfake.New(t, "us-east-1")
	p, err := awssm.New(context.Background(), awssm.Config{Region: "us-east-1", Endpoint: fake.URL, DeploymentID: "dep",
		Fingerprint: f.local.Sealer().Fingerprint},
		// The SDK's retries stay on (quickly): a transport error on a connection the fake
		// closes is not what these tests are about, and the one fault they inject
		// (AccessDenied) is not retried.
		awssm.WithCredentials(credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")), awssm.WithRetry(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	f.cfg.Providers[providers.AWSSecretsManager] = p
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	f.cfg.ExternalPrefixes = []string{AnyExternalRef} // the policy's own tests narrow it
	return f, fake
}

func valueReads(fake *awsfake.Server) int {
	return fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue")
}

// The fake holds 250 secrets: 180 importable across two prefixes, 20 in the managed
// namespace, 25 scheduled for deletion, and 25 named like secrets the ledger has.
func seedInventory(t *testing.T, f *fixture, fake *awsfake.Server) {
	t.Helper()
	var seeds []awsfake.Seeded
	for i := range 90 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("team/svc-%03d", i), Value: fmt.Sprintf("team-value-%03d", i)},
			awsfake.Seeded{Name: fmt.Sprintf("ops/db-%03d", i), Value: "ops-value"})
	}
	for i := range 20 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("paperclip/dep/co/managed-%02d", i), Value: "managed"})
	}
	for i := range 25 {
		seeds = append(seeds, awsfake.Seeded{Name: fmt.Sprintf("team/retired-%02d", i), Value: "old", Deleted: true},
			awsfake.Seeded{Name: fmt.Sprintf("shared/cfg-%02d", i), Value: "shared"})
		if _, err := f.h().Create(context.Background(), board, CreateSecret{CompanyID: "co", Name: fmt.Sprintf("shared/cfg-%02d", i),
			Value: val("local")}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seeds) != 250 {
		t.Fatalf("seeded %d", len(seeds))
	}
	fake.Seed(seeds...)
}

func TestRemoteImportPreviewPagesTheInventory(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	seedInventory(t, f, fake)
	ctx := context.Background()
	seen := map[string]ImportCandidate{}
	token, pages := "", 0
	for {
		page, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co", NextToken: token, PageSize: 40})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page.Candidates {
			if _, dup := seen[c.RemoteName]; dup {
				t.Fatalf("%s listed twice", c.RemoteName)
			}
			seen[c.RemoteName] = c
		}
		if token = page.NextToken; token == "" {
			break
		}
	}
	ready, named := 0, 0
	for name, c := range seen {
		switch {
		case strings.HasPrefix(name, "team/retired-"):
			t.Fatalf("a secret scheduled for deletion was listed: %s", name)
		case strings.HasPrefix(name, "paperclip/dep/"):
			t.Fatalf("a managed secret was listed: %s", name)
		case strings.HasPrefix(name, "shared/"):
			if c.Status != CandidateConflict || c.Importable || c.Conflicts[0].Type != ConflictName || c.Conflicts[0].ExistingSecretID == "" {
				t.Fatalf("%s: %+v", name, c)
			}
			named++
		default:
			if c.Status != CandidateReady || !c.Importable || c.Name != name || c.ExternalRef != name {
				t.Fatalf("%s: %+v", name, c)
			}
			ready++
		}
	}
	if ready != 180 || named != 25 || pages != 6 || fake.Calls("ListSecrets") != 6 {
		t.Fatalf("ready %d, name %d in %d pages (%d ListSecrets)", ready, named, pages, fake.Calls("ListSecrets"))
	}
	// A query narrows the listing (AWS's "all" filter).
	page, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co", Query: "ops", PageSize: 100})
	if err != nil || len(page.Candidates) != 90 || page.NextToken != "" {
		t.Fatalf("query ops: %d candidates, next %q, %v", len(page.Candidates), page.NextToken, err)
	}
	if n := valueReads(fake); n != 0 {
		t.Fatalf("%d value reads during preview", n)
	}
	// Bounds, and agents.
	for _, bad := range []ImportPreview{{CompanyID: "co", PageSize: 101}, {CompanyID: "co", PageSize: -1},
		{CompanyID: "co", Query: strings.Repeat("q", 201)}, {CompanyID: "co", NextToken: strings.Repeat("t", 4097)}} {
		if _, err := f.h().PreviewImport(ctx, board.Actor, bad); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	agent := f.agentFor(t, Consumer{CompanyID: "co", TargetType: "agent", TargetID: "a"})
	if _, err := f.h().PreviewImport(ctx, agent.Actor, ImportPreview{CompanyID: "co"}); ledgererr.CodeOf(err) != ledgererr.Forbidden {
		t.Fatalf("agent preview: %v", err)
	}
	// A stale cursor is the provider's invalid_request with the runbook's hint.
	_, err = f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co", NextToken: "c3RhbGU="})
	if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(ledgererr.MessageOf(err), "refresh the preview") {
		t.Fatalf("stale cursor: %v", err)
	}
}

func TestRemoteImportCommitAndResolve(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	seedInventory(t, f, fake)
	s := &remoteImportScene{f: f, fake: fake, ctx: context.Background(), canary: "canary-" + fmt.Sprint(time.Now().UnixNano())}
	s.importBatch(t)
	// The event says who imported what, from which vault.
	s.createdEventSaysWhoAndWhat(t)
	// Re-importing skips; the preview shows the imported ones as duplicates.
	s.reimportSkips(t)

	// Bound to an agent, the imported secret resolves its AWS value, and the access is recorded.
	agent := s.boundReferencesResolve(t)
	// Denied at AWS: the access event says access_denied, and no value leaves.
	s.deniedAtAWSLeavesNoValue(t, agent)

	// Rotation is a new reference or pin, never an AWS write; update cannot retarget;
	// delete and purge do not touch AWS; a deleted reference can be imported again.
	s.externalReferencesNeverWriteAWS(t)
}

// remoteImportScene is a company importing from a fake AWS inventory; res is the first
// import's answer, whose rows the later steps use.
type remoteImportScene struct {
	f      *fixture
	fake   *awsfake.Server
	ctx    context.Context
	canary string
	svc1   string
	res    ImportResult
}

func (s *remoteImportScene) importBatch(t *testing.T) {
	t.Helper()
	f, fake, ctx := s.f, s.fake, s.ctx
	arns := fake.Seed(awsfake.Seeded{Name: "team/canary", Value: s.canary})
	svc1, svc2 := fake.ARN("team/svc-001"), fake.ARN("team/svc-002")
	s.svc1 = svc1
	res, err := f.h().Import(ctx, board, ImportSecrets{CompanyID: "co", Rows: []ImportRow{
		{ExternalRef: arns[0], Name: "Canary key"},
		{ExternalRef: svc1},
		{ExternalRef: "team/svc-001"}, // the same secret by name: a duplicate within the batch
		{ExternalRef: svc2, ProviderVersionRef: fake.CurrentVersion("team/svc-002")},
		{ExternalRef: fake.ARN("paperclip/dep/co/managed-01")},
		{ExternalRef: fake.ARN("shared/cfg-03")},
		{ExternalRef: ""},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.res = res
	want := []struct{ status, reason string }{{RowImported, ""}, {RowImported, ""}, {RowSkipped, ReasonBatchDuplicate},
		{RowImported, ""}, {RowError, ReasonGuardrail}, {RowError, ReasonNameConflict}, {RowError, ReasonInvalid}}
	for i, w := range want {
		if r := res.Rows[i]; r.Status != w.status || r.Reason != w.reason || (w.status == RowImported) != (r.SecretID != "") {
			t.Fatalf("row %d: %+v, want %s %s", i, r, w.status, w.reason)
		}
	}
	if res.Imported != 3 || res.Skipped != 1 || res.Errors != 3 || res.Rows[0].Name != "Canary key" || res.Rows[1].Name != "team/svc-001" {
		t.Fatalf("import: %+v", res)
	}
	if fake.TotalCalls() != fake.Calls("DescribeSecret") {
		t.Fatalf("the import called AWS %d times besides the guard's DescribeSecret", fake.TotalCalls()-fake.Calls("DescribeSecret"))
	}
}

func (s *remoteImportScene) createdEventSaysWhoAndWhat(t *testing.T) {
	t.Helper()
	f, svc1 := s.f, s.svc1
	evs, err := f.store.ReadStream(s.ctx, events.SecretStream(s.res.Rows[1].SecretID), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var created events.SecretCreatedV1
	if err := json.Unmarshal(evs[0].Payload, &created); err != nil {
		t.Fatal(err)
	}
	if created.ManagedMode != ExternalReference || created.Source != SourceRemoteImport || created.ExternalRef != svc1 ||
		created.Fingerprint != f.local.Sealer().Fingerprint("co", *val("aws_secrets_manager_v1:" + svc1 + ":")) || evs[0].Metadata.ActorID != "test" {
		t.Fatalf("secret.created: %+v %+v", created, evs[0].Metadata)
	}
}

func (s *remoteImportScene) reimportSkips(t *testing.T) {
	t.Helper()
	f, ctx, res := s.f, s.ctx, s.res
	again, err := f.h().Import(ctx, board, ImportSecrets{CompanyID: "co", Rows: []ImportRow{{ExternalRef: "team/svc-001"}}})
	if err != nil || again.Skipped != 1 || again.Rows[0].Reason != ReasonExactDuplicate || again.Rows[0].Conflicts[0].ExistingSecretID != res.Rows[1].SecretID {
		t.Fatalf("re-import: %+v %v", again, err)
	}
	page, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co", Query: "team/svc-00", PageSize: 5})
	if err != nil || page.Candidates[1].Status != CandidateDuplicate || page.Candidates[1].Conflicts[0].Type != ConflictExactReference {
		t.Fatalf("preview after import: %+v %v", page.Candidates, err)
	}
}

// boundReferencesResolve binds two imported secrets to agent x and returns x's request.
func (s *remoteImportScene) boundReferencesResolve(t *testing.T) Request {
	t.Helper()
	f, fake, ctx, res := s.f, s.fake, s.ctx, s.res
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	for path, id := range map[string]string{"env.CANARY": res.Rows[0].SecretID, "pinned": res.Rows[3].SecretID} {
		if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: id, ConfigPath: path}); err != nil {
			t.Fatal(err)
		}
	}
	fake.PutValue("team/svc-002", "rotated-at-aws")
	agent := f.agentFor(t, x)
	out, err := f.h().ResolveValues(ctx, agent, Resolve{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Env["CANARY"].Reveal()) != s.canary || string(out.Values["pinned"].Reveal()) != "team-value-002" {
		t.Fatal("the imported references did not resolve their AWS values (pinned: its own version)")
	}
	if n := accessCount(t, f); n != 2 {
		t.Fatalf("%d access events", n)
	}
	return agent
}

func (s *remoteImportScene) deniedAtAWSLeavesNoValue(t *testing.T, agent Request) {
	t.Helper()
	f, ctx := s.f, s.ctx
	s.fake.Inject("GetSecretValue", awsfake.Error("AccessDeniedException"), 1)
	_, err := f.h().ResolveValues(ctx, agent, Resolve{ConfigPaths: []string{"env.CANARY"}})
	if err == nil || !strings.Contains(ledgererr.MessageOf(err), "provider_error (access_denied)") {
		t.Fatalf("denied resolution: %v", err)
	}
	var payload []byte
	if err := f.pool.QueryRow(ctx, `SELECT payload FROM ledger_log WHERE event_type = 'secret.accessed' ORDER BY position DESC LIMIT 1`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var accessed events.SecretAccessedV1
	if err := json.Unmarshal(payload, &accessed); err != nil || accessed.Outcome != ProviderError || accessed.ProviderCode != "access_denied" {
		t.Fatalf("access event %s: %v", payload, err)
	}
	// The canary appears nowhere in the log.
	var leaks int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_log WHERE strpos(payload::text, $1) > 0 OR strpos(metadata::text, $1) > 0`,
		s.canary).Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("canary in %d events (%v)", leaks, err)
	}
}

func (s *remoteImportScene) externalReferencesNeverWriteAWS(t *testing.T) {
	t.Helper()
	f, fake, ctx := s.f, s.fake, s.ctx
	writes := func() int {
		n := 0
		for _, op := range []string{"CreateSecret", "PutSecretValue", "DeleteSecret", "RestoreSecret", "UpdateSecretVersionStage"} {
			n += fake.Calls(op)
		}
		return n
	}
	id := s.res.Rows[1].SecretID
	if _, err := f.h().Rotate(ctx, board, RotateSecret{SecretID: id, ExternalRef: "team/svc-003"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Rotate(ctx, board, RotateSecret{SecretID: id, ExternalRef: "paperclip/dep/co/managed-02"}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("rotation into the managed namespace: %v", err)
	}
	ext := "team/svc-004"
	if _, err := f.h().Update(ctx, board, UpdateSecret{SecretID: id, ExternalRef: &ext}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("retarget through update: %v", err)
	}
	if _, err := f.h().Delete(ctx, board, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Purge(ctx, board, id, id); err != nil {
		t.Fatal(err)
	}
	if n := writes(); n != 0 || !fake.Exists("team/svc-003") || fake.ScheduledForDeletion("team/svc-001") {
		t.Fatalf("%d AWS writes for an external reference", n)
	}
	re, err := f.h().Import(ctx, board, ImportSecrets{CompanyID: "co", Rows: []ImportRow{{ExternalRef: s.svc1}}})
	if err != nil || re.Imported != 1 {
		t.Fatalf("re-import after delete: %+v %v", re, err)
	}
	if _, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "direct", ManagedMode: ExternalReference,
		Provider: providers.AWSSecretsManager, ExternalRef: "paperclip/dep/co/managed-05"}); ledgererr.MessageOf(err) !=
		"Paperclip-managed namespace secrets cannot be imported as external references" {
		t.Fatalf("create in the managed namespace: %v", err)
	}
	if n := valueReads(fake); n != 2+1 {
		t.Fatalf("%d value reads, want the 3 of the resolutions", n)
	}
}
