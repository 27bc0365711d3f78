package commands

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/redact"
)

// Limits of a leak scan (docs/runtime.md, "Leak scan").
const (
	// MaxScanText bounds the text of one scan, in bytes.
	MaxScanText = 16 << 20
	// MaxScanSource bounds the scan's label, in characters.
	MaxScanSource = 200
	// MaxScanValues bounds the values one scan decrypts and looks for (every live
	// version of every secret of the company); a company with more is refused, not
	// scanned in part. The scanner for 10,000 values holds about 60 MB
	// (docs/performance.md, Leak scan): this bound keeps one scan near 300 MB.
	MaxScanValues = 50_000
	// MaxConcurrentScans is how many scans one process runs at once; another is
	// refused with 429 (reason scan_busy) rather than queued, so that scans cannot
	// stack up their scanners' memory.
	MaxConcurrentScans = 1
	// MaxScanFindings bounds the findings one scan reports and records; past it the
	// answer says truncated.
	MaxScanFindings = 1_000
	// maxScanOccurrences bounds the occurrences counted in one text; past it the
	// counts are lower bounds and the answer says truncated.
	maxScanOccurrences = 100_000
)

// Reasons of a refused scan (details.reason of the 422).
const (
	ReasonScanSource        = "scan_source_invalid"
	ReasonScanSourceLeaks   = "scan_source_holds_value"
	ReasonScanTooManyValues = "scan_too_many_values"
	ReasonScanBusy          = "scan_busy"
)

// LeakScans handles the leak scan: Scan. It is a handler of its own, not a method of
// Secrets or Incidents: a scan is its own aggregate (its stream holds the scan and its
// findings), and it needs the provider instances and the directory of a company's
// secrets, which Incidents does not hold, but none of Secrets' placement, recovery
// window or read-back.
type LeakScans struct {
	rt        *Runtime
	storage   storage
	ext       externalRefs
	directory Directory
	// maxValues and maxFindings are MaxScanValues and MaxScanFindings (tests lower them).
	maxValues, maxFindings int
	// running holds a token per scan under way, at most MaxConcurrentScans.
	running chan struct{}
}

// LeakScan asks which of a company's secret values occur in Text.
type LeakScan struct {
	CompanyID string
	// Source labels the text in the record (it is checked to hold no value).
	Source          string
	Text            []byte
	IncludeExternal bool
}

// ScanFinding is one (secret, version, encoding) found in a text: how often, and where
// first. It never holds the value.
type ScanFinding struct {
	SecretID, Key string
	Version       int
	Encoding      string
	Occurrences   int
	Line, Column  int
	Offset        int64
}

// ScanResult is a recorded scan.
type ScanResult struct {
	ScanID   string
	Position int64
	Source   string
	Bytes    int64
	// ValuesChecked counts the values looked for; SkippedShort those shorter than
	// redact.MinLength (never reported); ExternalSkipped the external references left
	// out (IncludeExternal false); DecryptFailed those that could not be read.
	ValuesChecked, SkippedShort, ExternalSkipped, DecryptFailed int
	Truncated                                                   bool
	Findings                                                    []ScanFinding
}

// Scan scans s.Text for every value of the company it can read, records the scan and
// each finding in one append, and answers what it recorded. A frozen company is scanned
// (it is an incident tool). The values stay in this call: the scanner reports only the
// index of a value, and every refusal names a reason, never a value.
func (h *LeakScans) Scan(ctx context.Context, req Request, s LeakScan) (ScanResult, error) {
	if req.Actor.Type != actor.Board {
		return ScanResult{}, ledgererr.New(ledgererr.Forbidden, "a leak scan is for board tokens")
	}
	if s.CompanyID == "" || !req.Actor.CanAccess(s.CompanyID) {
		return ScanResult{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	if err := checkScanSource(s.Source); err != nil {
		return ScanResult{}, err
	}
	if len(s.Text) > MaxScanText {
		return ScanResult{}, ledgererr.New(ledgererr.TooLarge, "text: at most %d bytes", MaxScanText)
	}
	select {
	case h.running <- struct{}{}:
		defer func() { <-h.running }()
	default:
		return ScanResult{}, ledgererr.WithReason(ledgererr.TooManyRequests, ReasonScanBusy,
			"another leak scan is running on this server; try again when it is done")
	}
	set, err := h.collect(ctx, req.Actor, s.CompanyID, s.IncludeExternal)
	if err != nil {
		return ScanResult{}, err
	}
	values := h.read(ctx, s.CompanyID, &set)
	scanner := redact.NewScanner(values)
	if scanner.Contains([]byte(s.Source)) {
		return ScanResult{}, ledgererr.WithReason(ledgererr.Invalid, ReasonScanSourceLeaks,
			"source holds a value of one of the company's secrets: label the text without it")
	}
	found, truncated, err := scanner.Scan(bytes.NewReader(s.Text), maxScanOccurrences)
	if err != nil {
		return ScanResult{}, ledgererr.Wrap(err, ledgererr.Internal, "the scan failed")
	}
	out := ScanResult{ScanID: ulid.Make().String(), Source: s.Source, Bytes: int64(len(s.Text)),
		ValuesChecked: len(values) - len(scanner.Skipped()), SkippedShort: len(scanner.Skipped()),
		ExternalSkipped: set.externalSkipped, DecryptFailed: set.failed, Truncated: truncated}
	out.Findings, truncated = scanFindings(found, set.refs, h.maxFindings)
	out.Truncated = out.Truncated || truncated
	out.Position, err = h.record(ctx, req, s, out)
	return out, err
}

// checkScanSource holds the label to 1–MaxScanSource printable characters.
func checkScanSource(source string) error {
	n := utf8.RuneCountInString(source)
	ok := utf8.ValidString(source) && n >= 1 && n <= MaxScanSource && strings.TrimSpace(source) != ""
	for _, r := range source {
		ok = ok && unicode.IsPrint(r)
	}
	if !ok {
		return ledgererr.WithReason(ledgererr.Invalid, ReasonScanSource, "source: 1 to %d printable characters", MaxScanSource)
	}
	return nil
}

// scanFindings turns occurrences into one finding per (secret, version, encoding) with its
// first occurrence and count, in the order of first occurrence, at most limit.
func scanFindings(found []redact.Finding, refs []scanRef, limit int) ([]ScanFinding, bool) {
	type key struct {
		ref      int
		encoding string
	}
	index := map[key]int{}
	var out []ScanFinding
	truncated := false
	for _, f := range found {
		k := key{f.Ref, f.Encoding}
		if i, ok := index[k]; ok {
			out[i].Occurrences++
			continue
		}
		if len(out) == limit {
			truncated = true
			continue
		}
		r := refs[f.Ref]
		index[k] = len(out)
		out = append(out, ScanFinding{SecretID: r.secretID, Key: r.key, Version: r.version, Encoding: f.Encoding,
			Occurrences: 1, Line: f.Line, Column: f.Column, Offset: f.Offset})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out, truncated
}

// record appends the scan and its findings to the scan's own stream, all or nothing.
func (h *LeakScans) record(ctx context.Context, req Request, s LeakScan, out ScanResult) (int64, error) {
	meta := req.metadata()
	scan, err := events.New(events.LeakScanRecorded, s.CompanyID, events.LeakScanRecordedV1{ScanID: out.ScanID,
		Source: s.Source, Bytes: out.Bytes, ValuesChecked: out.ValuesChecked, SkippedShort: out.SkippedShort,
		ExternalSkipped: out.ExternalSkipped, DecryptFailed: out.DecryptFailed, IncludeExternal: s.IncludeExternal,
		Findings: len(out.Findings), Truncated: out.Truncated}, meta)
	if err != nil {
		return 0, err
	}
	evs := []eventstore.EventData{scan}
	for _, f := range out.Findings {
		e, err := events.New(events.SecretExposureReported, s.CompanyID, events.SecretExposureReportedV1{SecretID: f.SecretID,
			Version: f.Version, Encoding: f.Encoding, ScanID: out.ScanID, Source: s.Source, Occurrences: f.Occurrences,
			Line: f.Line, Column: f.Column, Offset: f.Offset}, meta)
		if err != nil {
			return 0, err
		}
		evs = append(evs, e)
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: events.LeakScanStream(s.CompanyID, out.ScanID),
		Expected: eventstore.NoStream, Events: evs})
	return res.LastPosition, err
}
