package redact

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveScan is Scan's contract by brute force: every occurrence of every form of every
// value by bytes.Index, the overlapping occurrences of one Ref joined (the longest kept,
// the earliest of equally long ones), sorted by offset and Ref.
func naiveScan(values []ScanValue, text []byte) []Finding {
	var all []Finding
	for _, v := range values {
		if len(v.Value) < MinLength {
			continue
		}
		var occ []Finding
		for _, f := range encodings(v.Value) {
			for i := 0; i < len(text); {
				j := bytes.Index(text[i:], f.text)
				if j < 0 {
					break
				}
				off := i + j
				line := 1 + bytes.Count(text[:off], []byte("\n"))
				col := off - bytes.LastIndexByte(text[:off], '\n')
				occ = append(occ, Finding{Ref: v.Ref, Encoding: encodingNames[f.enc], Offset: int64(off),
					Length: len(f.text), Line: line, Column: col})
				i = off + 1
			}
		}
		slices.SortFunc(occ, func(x, y Finding) int { return cmp.Compare(x.Offset, y.Offset) })
		var best Finding
		end := int64(-1)
		for _, o := range occ {
			if o.Offset >= end { // no overlap with the run so far: a new one
				if end >= 0 {
					all = append(all, best)
				}
				best, end = o, o.Offset+int64(o.Length)
				continue
			}
			end = max(end, o.Offset+int64(o.Length))
			if o.Length > best.Length {
				best = o
			}
		}
		if end >= 0 {
			all = append(all, best)
		}
	}
	slices.SortFunc(all, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(x.Offset, y.Offset), cmp.Compare(x.Ref, y.Ref))
	})
	return all
}

// TestScanMatchesNaive: random values over a small alphabet (so forms overlap, share
// prefixes and repeat across values), planted whole and in part among random text, scanned
// in random chunks with a random limit, against naiveScan.
func TestScanMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	const alphabet = "ab0=+/%-_\\\"<\n "
	rounds := 400
	if testing.Short() {
		rounds = 80
	}
	for round := range rounds {
		values := make([]ScanValue, 1+rng.IntN(8))
		for i := range values {
			values[i].Ref = 100 + i
			if i > 0 && rng.IntN(5) == 0 { // the same value as another Ref
				values[i].Value = values[rng.IntN(i)].Value
				continue
			}
			v := make([]byte, MinLength-2+rng.IntN(12))
			for j := range v {
				v[j] = alphabet[rng.IntN(len(alphabet))]
				if rng.IntN(8) == 0 {
					v[j] = byte(rng.IntN(256))
				}
			}
			if i > 0 && rng.IntN(4) == 0 { // another value inside this one
				v = slices.Concat(v[:rng.IntN(3)], values[rng.IntN(i)].Value, v[:rng.IntN(3)])
			}
			values[i].Value = v
		}
		var forms [][]byte
		for _, v := range values {
			for _, f := range encodings(v.Value) {
				forms = append(forms, f.text)
			}
		}
		var text []byte
		for range 30 {
			f := forms[rng.IntN(len(forms))]
			switch rng.IntN(4) {
			case 0, 1:
				text = append(text, f...)
			case 2:
				text = append(text, f[rng.IntN(len(f)):]...)
			default:
				for range rng.IntN(12) {
					text = append(text, alphabet[rng.IntN(len(alphabet))])
				}
			}
		}
		s := NewScanner(values)
		want := naiveScan(values, text)
		maxFindings := len(want) + 1
		if rng.IntN(3) == 0 {
			maxFindings = rng.IntN(len(want) + 1)
		}
		r := &chunkReader{b: text, rng: rng, max: 1 + rng.IntN(40)}
		got, truncated := mustScan(t, s, r, maxFindings)
		if !equalFindings(got, want[:min(maxFindings, len(want))]) || truncated != (len(want) > maxFindings) {
			t.Fatalf("round %d: max %d, truncated %v\ngot  %s\nwant %s", round, maxFindings, truncated,
				describe(got), describe(want))
		}
		if s.Contains(text) != (len(want) > 0) {
			t.Fatalf("round %d: Contains = %v with %d findings", round, !(len(want) > 0), len(want))
		}
	}
}

func describe(fs []Finding) string {
	var b bytes.Buffer
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  ref %d %s @%d+%d %d:%d", f.Ref, f.Encoding, f.Offset, f.Length, f.Line, f.Column)
	}
	return b.String()
}

// TestScanManyBinaryValues: enough values of random bytes (all 256 byte classes) that the
// full rows stop above maxDenseDepth for want of room, against naiveScan.
func TestScanManyBinaryValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 23))
	values := make([]ScanValue, 2000)
	var forms [][]byte
	for i := range values {
		v := make([]byte, MinLength+rng.IntN(32))
		for j := range v {
			v[j] = byte(rng.IntN(256))
		}
		values[i] = ScanValue{Ref: i, Value: v}
		for _, f := range encodings(v) {
			forms = append(forms, f.text)
		}
	}
	s := NewScanner(values)
	if s.a.denseDepth >= maxDenseDepth {
		t.Fatalf("full rows to depth %d: the test does not reach the budget", s.a.denseDepth)
	}
	var text []byte
	for range 200 {
		f := forms[rng.IntN(len(forms))]
		switch rng.IntN(3) {
		case 0:
			text = append(text, f...)
		case 1:
			text = append(text, f[:rng.IntN(len(f))]...)
		default:
			for range rng.IntN(40) {
				text = append(text, byte(rng.IntN(256)))
			}
		}
	}
	want := naiveScan(values, text)
	got, truncated := mustScan(t, s, &chunkReader{b: text, rng: rng, max: 100}, len(want)+1)
	if truncated || !equalFindings(got, want) {
		t.Fatalf("got %s\nwant %s", describe(got), describe(want))
	}
	if len(want) < 50 {
		t.Fatalf("only %d findings: the text plants too few values", len(want))
	}
}
