package commands

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
	"github.com/secretsledger/secretsledger/queries"
)

// scanScene is a company "co" with secret a (two versions), secret b, and secret c,
// deleted; "other" has secret o.
type scanScene struct {
	f       *fixture
	ctx     context.Context
	a, b, c string
	scans   *LeakScans
}

const (
	scanA1 = "alpha-value-one-0001"
	scanA2 = "alpha-value-two-0002"
	scanB  = "bravo/value?&=\"x\"-3"
	scanC  = "charlie-deleted-value"
	scanO  = "other-company-value"
)

func newScanScene(t *testing.T, f *fixture) *scanScene {
	t.Helper()
	ctx := context.Background()
	if f.cfg.Directory == nil {
		f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	}
	s := &scanScene{f: f, ctx: ctx}
	create := func(company, name, value string) string {
		res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: company, Name: name, Value: val(value)})
		if err != nil {
			t.Fatal(err)
		}
		return res.SecretID
	}
	s.a, s.b, s.c = create("co", "alpha", scanA1), create("co", "bravo", scanB), create("co", "charlie", scanC)
	create("other", "other", scanO)
	if _, err := f.h().Rotate(ctx, board, RotateSecret{SecretID: s.a, Value: val(scanA2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Delete(ctx, board, s.c); err != nil {
		t.Fatal(err)
	}
	s.scans = newHandlers(f.rt, f.cfg).LeakScans
	return s
}

// logSize counts the events committed to the log, sealed or not.
func logSize(t *testing.T, f *fixture) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A scan finds every version, deleted secrets' too, in each encoding, reports one
// finding per (secret, version, encoding) with its first place and count, and records
// the scan and its findings in one append that holds no value.
func TestLeakScanFindsAndRecordsAtomically(t *testing.T) {
	t.Parallel()
	s := newScanScene(t, newFixture(t))
	text := "line one " + scanA1 + "\n" +
		"b64 " + base64.StdEncoding.EncodeToString([]byte(scanA2)) + " and again " + scanA1 + "\n" +
		`{"v":"bravo/value?&=\"x\"-3"}` + "\n" +
		"hex " + hex.EncodeToString([]byte(scanC)) + " other " + scanO + "\n"
	res, err := s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "run 1 transcript", Text: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ScanFinding{}
	for _, fd := range res.Findings {
		got[fmt.Sprintf("%s/%d/%s", fd.SecretID, fd.Version, fd.Encoding)] = fd
	}
	want := map[string]int{s.a + "/1/raw": 2, s.a + "/2/base64": 1, s.b + "/1/json": 1, s.c + "/1/hex": 1}
	if len(got) != len(want) {
		t.Fatalf("findings %+v, want %v", res.Findings, want)
	}
	for k, n := range want {
		if got[k].Occurrences != n {
			t.Errorf("%s: %+v, want %d occurrences", k, got[k], n)
		}
	}
	if a1 := got[s.a+"/1/raw"]; a1.Line != 1 || a1.Column != 10 || a1.Offset != 9 || a1.Key != "alpha" {
		t.Errorf("first place of a v1: %+v", a1)
	}
	if res.ValuesChecked != 4 || res.SkippedShort != 0 || res.ExternalSkipped != 0 || res.Bytes != int64(len(text)) {
		t.Errorf("counts: %+v", res)
	}
	evs, err := s.f.store.ReadStream(s.ctx, events.LeakScanStream("co", res.ScanID), 0, 100)
	if err != nil || len(evs) != 1+len(want) {
		t.Fatalf("scan stream: %d events, %v", len(evs), err)
	}
	if evs[0].Type != events.LeakScanRecorded || evs[len(evs)-1].Position != res.Position ||
		evs[len(evs)-1].Position-evs[0].Position != int64(len(want)) {
		t.Fatalf("the scan is not one append ending at its answer's position %d", res.Position)
	}
	for _, e := range evs {
		for _, v := range []string{scanA1, scanA2, scanB, scanC, "bravo/value", "alpha-value"} {
			if strings.Contains(string(e.Payload), v) {
				t.Fatalf("%s carries a value: %s", e.Type, e.Payload)
			}
		}
		if e.Type != events.LeakScanRecorded && e.Type != events.SecretExposureReported || e.Metadata.ActorType != actor.Board {
			t.Fatalf("unexpected event %s by %q", e.Type, e.Metadata.ActorType)
		}
	}
}

// Refusals write nothing: a source holding a value (in any encoding), a bad source,
// too many values, an agent key, another company's board token.
func TestLeakScanRefusalsRecordNothing(t *testing.T) {
	t.Parallel()
	s := newScanScene(t, newFixture(t))
	before := logSize(t, s.f)
	limited := Request{Actor: actor.Actor{Type: actor.Board, ID: "limited", Companies: []string{"other"}}}
	agent := Request{Actor: actor.Actor{Type: actor.Agent, ID: "k", Companies: []string{"co"}}}
	for _, tc := range []struct {
		name   string
		req    Request
		scan   LeakScan
		code   ledgererr.Code
		reason string
	}{
		{"source holds a value", board, LeakScan{CompanyID: "co", Source: "from " + scanC, Text: []byte("x")}, ledgererr.Invalid, ReasonScanSourceLeaks},
		{"source holds an encoded value", board, LeakScan{CompanyID: "co", Source: "b64 " + base64.RawURLEncoding.EncodeToString([]byte(scanA2))},
			ledgererr.Invalid, ReasonScanSourceLeaks},
		{"empty source", board, LeakScan{CompanyID: "co", Source: " "}, ledgererr.Invalid, ReasonScanSource},
		{"long source", board, LeakScan{CompanyID: "co", Source: strings.Repeat("s", MaxScanSource+1)}, ledgererr.Invalid, ReasonScanSource},
		{"control character", board, LeakScan{CompanyID: "co", Source: "a\nb"}, ledgererr.Invalid, ReasonScanSource},
		{"agent key", agent, LeakScan{CompanyID: "co", Source: "s"}, ledgererr.Forbidden, ""},
		{"another company", limited, LeakScan{CompanyID: "co", Source: "s"}, ledgererr.NotFound, ""},
		{"text too large", board, LeakScan{CompanyID: "co", Source: "s", Text: make([]byte, MaxScanText+1)}, ledgererr.TooLarge, ""},
	} {
		_, err := s.scans.Scan(s.ctx, tc.req, tc.scan)
		if ledgererr.CodeOf(err) != tc.code || ledgererr.ReasonOf(err) != tc.reason {
			t.Errorf("%s: %v, want %s %s", tc.name, err, tc.code, tc.reason)
		}
		for _, v := range []string{scanA1, scanA2, scanB, scanC} {
			if err != nil && strings.Contains(err.Error(), v) {
				t.Fatalf("%s: the error names a value", tc.name)
			}
		}
	}
	s.scans.maxValues = 3 // the company has four live versions
	if _, err := s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "s", Text: []byte(scanA1)}); ledgererr.ReasonOf(err) != ReasonScanTooManyValues {
		t.Errorf("over the value bound: %v", err)
	}
	if after := logSize(t, s.f); after != before {
		t.Fatalf("refused scans appended %d events", after-before)
	}
	s.scans.running <- struct{}{} // a scan under way
	if _, err := s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "s", Text: []byte(scanA1)}); ledgererr.CodeOf(err) != ledgererr.TooManyRequests ||
		ledgererr.ReasonOf(err) != ReasonScanBusy {
		t.Errorf("a scan while another runs: %v", err)
	}
	<-s.scans.running
	if after := logSize(t, s.f); after != before {
		t.Fatalf("refused scans appended %d events", after-before)
	}
	s.scans.maxValues = 4
	if res, err := s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "s", Text: []byte("nothing here")}); err != nil ||
		len(res.Findings) != 0 || logSize(t, s.f) != before+1 {
		t.Fatalf("a scan at the bound, finding nothing: %+v %v (it is recorded all the same)", res, err)
	}
}

// External references are looked for only when asked; the findings bound truncates.
func TestLeakScanExternalOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	s := newScanScene(t, f)
	const external = "external-aws-value-42"
	fake.Seed(awsfake.Seeded{Name: "team/ext", Value: external})
	ext, err := f.h().Create(s.ctx, board, CreateSecret{CompanyID: "co", Name: "ext", ManagedMode: ExternalReference,
		Provider: providers.AWSSecretsManager, ExternalRef: "team/ext"})
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("log: " + external + " " + scanA1)
	res, err := s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "s", Text: text})
	if err != nil || res.ExternalSkipped != 1 || len(res.Findings) != 1 || res.Findings[0].SecretID != s.a {
		t.Fatalf("without includeExternal: %+v %v", res, err)
	}
	res, err = s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "s", Text: text, IncludeExternal: true})
	if err != nil || res.ExternalSkipped != 0 || len(res.Findings) != 2 || res.Findings[0].SecretID != ext.SecretID ||
		res.Findings[0].Encoding != "raw" || res.Truncated {
		t.Fatalf("with includeExternal: %+v %v", res, err)
	}
	s.scans.maxFindings = 1
	many := strings.Repeat(scanA1+" ", 3) + strings.Repeat(hex.EncodeToString([]byte(scanA1))+" ", 2)
	res, err = s.scans.Scan(s.ctx, board, LeakScan{CompanyID: "co", Source: "s", Text: []byte(many)})
	if err != nil || !res.Truncated || len(res.Findings) != 1 || res.Findings[0].Occurrences != 3 || res.Findings[0].Encoding != "raw" {
		t.Fatalf("over the findings bound: %+v %v", res, err)
	}
}
