package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/url"
	"sort"
	"strings"
)

// The encodings a Scanner reports a finding in.
const (
	EncodingRaw       = "raw"
	EncodingBase64    = "base64"
	EncodingBase64URL = "base64url"
	EncodingURL       = "url"
	EncodingJSON      = "json"
	EncodingHex       = "hex"
)

// ScanValue is one value to look for; Ref is the caller's name for it, reported with
// each finding (never the value).
type ScanValue struct {
	Ref   int
	Value []byte
}

// Finding is one occurrence of a value in a scanned text: which value, in which
// encoding, where (byte offset from 0; Line and Column 1-based, Column in bytes).
type Finding struct {
	Ref      int
	Encoding string
	Offset   int64
	Length   int
	Line     int
	Column   int
}

// Scanner finds which of a fixed set of values occur in a text, in which encoding and
// where. It is immutable after NewScanner and safe for concurrent use.
type Scanner struct {
	forms   []scanForm
	skipped []int
}

// scanForm is one encoded form of one value.
type scanForm struct {
	ref      int
	encoding string
	pattern  []byte
}

// NewScanner prepares the values and their encodings. A value shorter than MinLength
// is not looked for (it would match ordinary text); Skipped lists its Ref. A form that
// an earlier encoding of the same value already has (an alphanumeric value is its own
// URL escape) is reported under the earlier one, in the order of the constants above.
func NewScanner(values []ScanValue) *Scanner {
	s := &Scanner{}
	for _, v := range values {
		if len(v.Value) < MinLength {
			s.skipped = append(s.skipped, v.Ref)
			continue
		}
		seen := map[string]bool{}
		for _, f := range scanForms(v.Value) {
			if f.form == "" || seen[f.form] {
				continue
			}
			seen[f.form] = true
			s.forms = append(s.forms, scanForm{ref: v.Ref, encoding: f.encoding, pattern: []byte(f.form)})
		}
	}
	return s
}

type labelledForm struct{ encoding, form string }

// scanForms are the forms of v a Scanner looks for. Unpadded base64 is a prefix of the
// padded form, so finding it finds both.
func scanForms(v []byte) []labelledForm {
	s := string(v)
	return []labelledForm{
		{EncodingRaw, s},
		{EncodingBase64, base64.RawStdEncoding.EncodeToString(v)},
		{EncodingBase64URL, base64.RawURLEncoding.EncodeToString(v)},
		{EncodingURL, url.QueryEscape(s)},
		{EncodingURL, url.PathEscape(s)},
		{EncodingJSON, jsonInner(s, true)},
		{EncodingJSON, jsonInner(s, false)},
		{EncodingHex, hex.EncodeToString(v)},
		{EncodingHex, strings.ToUpper(hex.EncodeToString(v))},
	}
}

// Skipped lists the Refs of the values too short to be looked for, in the order given.
func (s *Scanner) Skipped() []int { return append([]int(nil), s.skipped...) }

// Scan reads r to its end and returns the occurrences of every value in it, by offset,
// at most maxFindings of them (truncated then reports that there were more).
func (s *Scanner) Scan(r io.Reader, maxFindings int) (findings []Finding, truncated bool, err error) {
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, false, err
	}
	for _, f := range s.forms {
		for at := 0; ; {
			i := bytes.Index(text[at:], f.pattern)
			if i < 0 {
				break
			}
			off := at + i
			findings = append(findings, Finding{Ref: f.ref, Encoding: f.encoding, Offset: int64(off), Length: len(f.pattern)})
			at = off + 1
		}
	}
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Offset < findings[j].Offset })
	if maxFindings >= 0 && len(findings) > maxFindings {
		findings, truncated = findings[:maxFindings], true
	}
	for i := range findings {
		before := text[:findings[i].Offset]
		findings[i].Line = bytes.Count(before, []byte("\n")) + 1
		findings[i].Column = len(before) - bytes.LastIndexByte(before, '\n')
	}
	return findings, truncated, nil
}

// Contains reports whether any form of any value occurs in b.
func (s *Scanner) Contains(b []byte) bool {
	for _, f := range s.forms {
		if bytes.Contains(b, f.pattern) {
			return true
		}
	}
	return false
}
