package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader returns 1 to max bytes per Read, at random.
type chunkReader struct {
	b   []byte
	rng *rand.Rand
	max int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(1+r.rng.IntN(r.max), len(p), len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// readers gives text whole, a byte per Read, and in random chunks, so a value is split
// across reads at every place.
func readers(text []byte, seed uint64) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":    bytes.NewReader(text),
		"one byte": iotest.OneByteReader(bytes.NewReader(text)),
		"chunks":   &chunkReader{b: text, rng: rand.New(rand.NewPCG(seed, 1)), max: 7},
	}
}

func mustScan(t *testing.T, s *Scanner, r io.Reader, maxFindings int) ([]Finding, bool) {
	t.Helper()
	found, truncated, err := s.Scan(r, maxFindings)
	if err != nil {
		t.Fatal(err)
	}
	return found, truncated
}

// TestScanEachEncoding: each form of a value, on the second line of a text, is found once,
// named by its encoding, at its offset, line and column, however the text is read.
func TestScanEachEncoding(t *testing.T) {
	v := []byte("p@ss w/rd+é<>&\"?~~~xy")
	std, rawURL := base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v)
	if !strings.HasSuffix(std, "=") || !strings.ContainsAny(std, "+/") {
		t.Fatal("the test value must have padding in base64 and tell standard base64 from URL-safe")
	}
	embedded := base64.StdEncoding.EncodeToString(append([]byte("user:"), v...))
	core := base64Cores(v, base64.RawStdEncoding)[5%3]
	cases := []struct{ name, form, enc string }{
		{"raw", string(v), EncodingRaw},
		{"base64 padded", std, EncodingBase64},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(v), EncodingBase64},
		{"base64url padded", base64.URLEncoding.EncodeToString(v), EncodingBase64URL},
		{"base64url unpadded", rawURL, EncodingBase64URL},
		{"query escape", url.QueryEscape(string(v)), EncodingURL},
		{"path escape", url.PathEscape(string(v)), EncodingURL},
		{"json", `p@ss w/rd+é\u003c\u003e\u0026\"?~~~xy`, EncodingJSON},
		{"json without HTML escaping", `p@ss w/rd+é<>&\"?~~~xy`, EncodingJSON},
		{"hex", hex.EncodeToString(v), EncodingHex},
		{"HEX", strings.ToUpper(hex.EncodeToString(v)), EncodingHex},
		{"base64 core", embedded, EncodingBase64},
	}
	s := NewScanner([]ScanValue{{Ref: 7, Value: v}, {Ref: 8, Value: []byte("another value")}})
	for _, tc := range cases {
		prefix := "first line\nsome text "
		text := []byte(prefix + tc.form + " more\nlast line")
		wantOff, wantLen := len(prefix), len(tc.form)
		if tc.name == "base64 core" {
			wantOff, wantLen = len(prefix)+strings.Index(embedded, core), len(core)
		}
		want := Finding{Ref: 7, Encoding: tc.enc, Offset: int64(wantOff), Length: wantLen,
			Line: 2, Column: wantOff - len("first line\n") + 1}
		for rname, r := range readers(text, 3) {
			found, truncated := mustScan(t, s, r, 10)
			if truncated || len(found) != 1 || found[0] != want {
				t.Errorf("%s, %s: got %+v (truncated %v), want [%+v]", tc.name, rname, found, truncated, want)
			}
		}
		if !s.Contains(text) {
			t.Errorf("%s: Contains is false", tc.name)
		}
	}
}

// TestScanOverlapsAndSharedValues: a value's base64 core inside its full base64 form is one
// finding; two Refs with one value are both reported, in Ref order; separate occurrences
// are separate findings.
func TestScanOverlapsAndSharedValues(t *testing.T) {
	v := []byte("correct horse battery")
	s := NewScanner([]ScanValue{{Ref: 2, Value: v}, {Ref: 1, Value: v}, {Ref: 3, Value: []byte("other-value-1")}})
	full := base64.StdEncoding.EncodeToString(v)
	if !strings.HasPrefix(full, base64Cores(v, base64.RawStdEncoding)[0]) {
		t.Fatal("the core is not inside the full form")
	}
	text := []byte(full + "\n\tx" + string(v) + string(v) + "other-value-1")
	got, _ := mustScan(t, s, bytes.NewReader(text), 10)
	at := int64(len(full) + 3)
	want := []Finding{
		{Ref: 1, Encoding: EncodingBase64, Offset: 0, Length: len(full), Line: 1, Column: 1},
		{Ref: 2, Encoding: EncodingBase64, Offset: 0, Length: len(full), Line: 1, Column: 1},
		{Ref: 1, Encoding: EncodingRaw, Offset: at, Length: len(v), Line: 2, Column: 3},
		{Ref: 2, Encoding: EncodingRaw, Offset: at, Length: len(v), Line: 2, Column: 3},
		{Ref: 1, Encoding: EncodingRaw, Offset: at + int64(len(v)), Length: len(v), Line: 2, Column: 3 + len(v)},
		{Ref: 2, Encoding: EncodingRaw, Offset: at + int64(len(v)), Length: len(v), Line: 2, Column: 3 + len(v)},
		{Ref: 3, Encoding: EncodingRaw, Offset: at + 2*int64(len(v)), Length: 13, Line: 2, Column: 3 + 2*len(v)},
	}
	if !equalFindings(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// TestScanOverlapEdges: a value's form that overlaps another of its forms by its last byte
// is joined to it even when a read ends between them, and of two equally long forms the
// earlier is kept.
func TestScanOverlapEdges(t *testing.T) {
	// "zzzzzzz7" raw, then its hex form "7a7a…37" starting on the raw form's last byte.
	v := []byte("zzzzzzz7")
	s := NewScanner([]ScanValue{{Ref: 1, Value: v}})
	text := []byte("zzzzzzz" + hex.EncodeToString(v))
	want := []Finding{{Ref: 1, Encoding: EncodingHex, Offset: 7, Length: 16, Line: 1, Column: 8}}
	for rname, r := range readers(text, 5) {
		if got, _ := mustScan(t, s, r, 10); !equalFindings(got, want) {
			t.Errorf("%s: got %s", rname, describe(got))
		}
	}
	// The lower-case hex form, then the upper-case one over its last six bytes.
	v = []byte("1111\xab111")
	lower := hex.EncodeToString(v)
	upper := strings.ToUpper(lower)
	if lower[10:] != upper[:6] {
		t.Fatal("the forms do not overlap")
	}
	s = NewScanner([]ScanValue{{Ref: 1, Value: v}})
	want = []Finding{{Ref: 1, Encoding: EncodingHex, Offset: 0, Length: 16, Line: 1, Column: 1}}
	if got, _ := mustScan(t, s, strings.NewReader(lower[:10]+upper), 10); !equalFindings(got, want) {
		t.Errorf("equally long forms: got %s", describe(got))
	}
}

func equalFindings(a, b []Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestScanSkipsShortValues: values under MinLength are listed by Skipped, in order, and not
// found.
func TestScanSkipsShortValues(t *testing.T) {
	s := NewScanner([]ScanValue{{Ref: 4, Value: []byte("1234567")}, {Ref: 5, Value: []byte("long enough")},
		{Ref: 6, Value: nil}})
	if got := s.Skipped(); len(got) != 2 || got[0] != 4 || got[1] != 6 {
		t.Fatalf("Skipped = %v, want [4 6]", got)
	}
	found, _ := mustScan(t, s, strings.NewReader("1234567 and 1234567"), 10)
	if len(found) != 0 || s.Contains([]byte("x1234567x")) {
		t.Fatalf("a short value was found: %+v", found)
	}
	empty := NewScanner(nil)
	if found, _ := mustScan(t, empty, strings.NewReader("anything at all"), 10); len(found) != 0 || empty.Contains([]byte("x")) {
		t.Fatal("a scanner without values found something")
	}
}

// TestScanTruncates: at most maxFindings, the first in text order, and truncated only when
// there were more; the text is read to its end even once the findings are certain.
func TestScanTruncates(t *testing.T) {
	v := "the-secret-value"
	s := NewScanner([]ScanValue{{Ref: 1, Value: []byte(v)}})
	// Far more text than one read, with an occurrence every 100 KB or so.
	var b strings.Builder
	for i := range 40 {
		b.WriteString(strings.Repeat("filler line\n", 8000+i))
		b.WriteString(v + "\n")
	}
	text := b.String()
	all, truncated := mustScan(t, s, strings.NewReader(text), 1000)
	if len(all) != 40 || truncated {
		t.Fatalf("%d findings (truncated %v), want 40", len(all), truncated)
	}
	for _, max := range []int{0, 1, 3, 39, 40} {
		r := &countingReader{r: strings.NewReader(text)}
		got, truncated := mustScan(t, s, r, max)
		if !equalFindings(got, all[:max]) || truncated != (max < 40) {
			t.Errorf("max %d: %d findings, truncated %v", max, len(got), truncated)
		}
		if r.n != len(text) {
			t.Errorf("max %d: read %d of %d bytes", max, r.n, len(text))
		}
	}
	if found, truncated := mustScan(t, s, strings.NewReader("nothing here"), 0); len(found) != 0 || truncated {
		t.Error("truncated without findings")
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestScanReadError: the findings before a read error come back with it.
func TestScanReadError(t *testing.T) {
	s := NewScanner([]ScanValue{{Ref: 1, Value: []byte("the-secret-value")}})
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("x the-secret-value y"), iotest.ErrReader(boom))
	found, _, err := s.Scan(r, 10)
	if !errors.Is(err, boom) || len(found) != 1 || found[0].Offset != 2 {
		t.Fatalf("got %+v, %v", found, err)
	}
}

// TestContains: any value in any encoding, anywhere in b; not a part of one.
func TestContains(t *testing.T) {
	v := []byte("label-secret-42")
	s := NewScanner([]ScanValue{{Ref: 1, Value: v}})
	for _, f := range encodings(v) {
		if !s.Contains(append([]byte("prefix "), f.text...)) {
			t.Errorf("%s form not contained", encodingNames[f.enc])
		}
		if s.Contains(f.text[:len(f.text)-1]) {
			t.Errorf("a part of the %s form is contained", encodingNames[f.enc])
		}
	}
	if s.Contains([]byte("label-secret-4 label-secret-43")) {
		t.Error("near misses are contained")
	}
}
