package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
)

// leakCanary is a value whose six encodings all differ from each other and from the
// value: its characters need URL and JSON escapes, and its base64 holds a + or a /, so
// that base64url differs from base64.
func leakCanary() string {
	for {
		v := "canary/" + ulid.Make().String() + `"&? +`
		if strings.ContainsAny(base64.RawStdEncoding.EncodeToString([]byte(v)), "+/") {
			return v
		}
	}
}

// canaryForms are the canary as a leak scan's text holds it, by encoding.
func canaryForms(v string) map[string]string {
	j, _ := json.Marshal(v)
	return map[string]string{
		"raw":       v,
		"base64":    base64.StdEncoding.EncodeToString([]byte(v)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(v)),
		"url":       url.QueryEscape(v),
		"json":      string(j[1 : len(j)-1]),
		"hex":       hex.EncodeToString([]byte(v)),
	}
}

// The leak scan on the real binary: a canary in each encoding, one per line, is found
// by `secretsledger scan` with the right encoding and line (exit 4; a clean file exits
// 0); `audit exposure` lists the findings; the canary, in any encoding, is in no answer,
// no CLI output, not in the server log nor in any NATS message of the company.
func TestLeakScanEndToEnd(t *testing.T) {
	t.Parallel()
	tg := onOneProcess(t)
	company, _ := tg.companies()
	api := tg.client(t, tg.token)
	sub := startFollower(t, api.subscriber(t, company))
	value := leakCanary()
	body, _ := json.Marshal(map[string]string{"name": "leaky", "value": value})
	id := api.must(201, "POST", "/api/companies/"+company+"/secrets", string(body)).json(t)["id"].(string)

	forms := canaryForms(value)
	order := []string{"raw", "base64", "base64url", "url", "json", "hex"}
	var text strings.Builder
	text.WriteString("transcript of run 123\n")
	for _, enc := range order {
		text.WriteString(enc + ": " + forms[enc] + "\n")
	}
	dir := t.TempDir()
	leaky, clean := filepath.Join(dir, "leaky.txt"), filepath.Join(dir, "clean.txt")
	if err := os.WriteFile(leaky, []byte(text.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clean, []byte("nothing to see\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var outputs []string
	code, out, errOut := tg.run(t, "scan", "-C", company, "-o", "json", leaky)
	outputs = append(outputs, out, errOut)
	if code != exitFound {
		t.Fatalf("scan of the leaky file: exit %d, want %d: %s %s", code, exitFound, out, errOut)
	}
	var scan struct {
		ScanID   string
		Source   string
		Findings []struct {
			SecretID, Encoding string
			Version, Line      int
			Occurrences        int
		}
	}
	if err := json.Unmarshal([]byte(out), &scan); err != nil || scan.Source != "file leaky.txt" {
		t.Fatalf("scan answer: %v %s", err, out)
	}
	found := map[string]int{}
	for _, f := range scan.Findings {
		if f.SecretID != id || f.Version != 1 || f.Occurrences != 1 {
			t.Errorf("finding %+v", f)
		}
		found[f.Encoding] = f.Line
	}
	for i, enc := range order {
		if found[enc] != i+2 {
			t.Errorf("%s: found on line %d, want %d (findings %+v)", enc, found[enc], i+2, scan.Findings)
		}
	}
	leakScanAuditStep(t, tg, id, scan.ScanID, &outputs)
	leakScanCLIStep(t, tg, company, leaky, clean, &outputs)

	sub.waitFor(t, "the scan's events on NATS", hasType("secret.exposure_reported", "leak-scan-"+company+"/"+scan.ScanID))
	var nats strings.Builder
	for _, e := range sub.events() {
		b, _ := json.Marshal(e)
		nats.Write(b)
	}
	for enc, form := range forms {
		for where, got := range map[string]string{"the CLI's output": strings.Join(outputs, "\n"), "the server log": tg.logs(),
			"the company's NATS messages": nats.String(), "HTTP answers": api.seen.String()} {
			if strings.Contains(got, form) {
				t.Errorf("the canary (%s) is in %s", enc, where)
			}
		}
	}
}

// leakScanAuditStep: `audit exposure` lists the scan's six findings, as JSON and as a
// table.
func leakScanAuditStep(t *testing.T, tg *apiTarget, id, scanID string, outputs *[]string) {
	t.Helper()
	code, out, errOut := tg.run(t, "audit", "exposure", "--secret", id, "-o", "json")
	*outputs = append(*outputs, out, errOut)
	var exp struct {
		ReportedExposures []struct{ ScanID, Encoding, Source, Actor string }
	}
	if err := json.Unmarshal([]byte(out), &exp); code != 0 || err != nil || len(exp.ReportedExposures) != 6 {
		t.Fatalf("audit exposure: %d %v %s %s", code, err, out, errOut)
	}
	for _, r := range exp.ReportedExposures {
		if r.ScanID != scanID || r.Source != "file leaky.txt" || !strings.HasPrefix(r.Actor, "board:") {
			t.Errorf("reported exposure %+v", r)
		}
	}
	code, out, errOut = tg.run(t, "audit", "exposure", "--secret", id, "-o", "table")
	*outputs = append(*outputs, out, errOut)
	if code != 0 || !strings.Contains(out, "REPORTED EXPOSURES") || !strings.Contains(out, scanID) || !strings.Contains(out, "base64url") {
		t.Fatalf("audit exposure as a table: %d %s %s", code, out, errOut)
	}
}

// leakScanCLIStep: a table names the encodings found (exit 4); a clean file and a clean
// stdin exit 0; a file over 16 MiB is refused before anything is sent (exit 1, and the
// other file is still scanned).
func leakScanCLIStep(t *testing.T, tg *apiTarget, company, leaky, clean string, outputs *[]string) {
	t.Helper()
	code, out, errOut := tg.run(t, "scan", "-C", company, "-o", "table", leaky)
	*outputs = append(*outputs, out, errOut)
	if code != exitFound || !strings.Contains(out, "base64url") || !strings.Contains(out, "OCCURRENCES") {
		t.Fatalf("scan as a table: exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut = tg.run(t, "scan", "-C", company, "-o", "table", "--source", "the clean one", clean)
	*outputs = append(*outputs, out, errOut)
	if code != 0 || !strings.Contains(out, "nothing found") || !strings.Contains(out, `"the clean one"`) {
		t.Fatalf("scan of a clean file: exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut = tg.runInput(t, nil, "a clean paste\n", "scan", "-C", company, "-o", "json", "-")
	*outputs = append(*outputs, out, errOut)
	if code != 0 || !strings.Contains(out, `"source": "stdin"`) {
		t.Fatalf("scan of stdin: exit %d: %s %s", code, out, errOut)
	}
	huge := filepath.Join(filepath.Dir(clean), "huge.log")
	if err := os.WriteFile(huge, make([]byte, 16<<20+1), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = tg.run(t, "scan", "-C", company, "-o", "table", huge, clean)
	*outputs = append(*outputs, out, errOut)
	if code != exitFailure || !strings.Contains(errOut, "huge.log: larger than the server's limit") || !strings.Contains(out, "nothing found") {
		t.Fatalf("scan of a file over the limit: exit %d: %s %s", code, out, errOut)
	}
}
