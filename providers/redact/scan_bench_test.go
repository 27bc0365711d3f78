package redact

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// scanBenchValues is n values of 32–64 bytes of URL-safe base64 text, as generated tokens
// and passwords are.
func scanBenchValues(n int) []ScanValue {
	rng := rand.New(rand.NewPCG(5, 8))
	values := make([]ScanValue, n)
	for i := range values {
		raw := make([]byte, 24+rng.IntN(25))
		for j := range raw {
			raw[j] = byte(rng.IntN(256))
		}
		values[i] = ScanValue{Ref: i, Value: []byte(base64.RawURLEncoding.EncodeToString(raw))}
	}
	return values
}

// scanBenchText is size bytes of log lines with a value in one of its forms, chosen at
// random, every 300 lines or so; it returns how many values it embedded.
func scanBenchText(size int, values []ScanValue) ([]byte, int) {
	rng := rand.New(rand.NewPCG(9, 9))
	var b bytes.Buffer
	b.Grow(size + 256)
	embedded := 0
	for b.Len() < size {
		fmt.Fprintf(&b, "2026-12-07T15:10:25.%06dZ level=info msg=\"request served\" path=/v1/items/%d status=200 bytes=%d\n",
			rng.IntN(1e6), rng.IntN(1e5), rng.IntN(1e4))
		if rng.IntN(300) == 0 {
			forms := encodings(values[rng.IntN(len(values))].Value)
			fmt.Fprintf(&b, "level=debug header=\"Authorization: %s\"\n", forms[rng.IntN(len(forms))].text)
			embedded++
		}
	}
	return b.Bytes()[:size], embedded
}

// BenchmarkScanBuild: compiling 10,000 values of 32–64 bytes, each in its distinct forms.
func BenchmarkScanBuild(b *testing.B) {
	values := scanBenchValues(10_000)
	b.ReportAllocs()
	var s *Scanner
	for range b.N {
		s = NewScanner(values)
	}
	b.StopTimer()
	reportAutomaton(b, s)
}

// reportAutomaton reports the automaton's size and the heap in use with it built.
func reportAutomaton(b *testing.B, s *Scanner) {
	b.Helper()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	patterns := len(s.a.outs)
	b.ReportMetric(float64(patterns), "patterns")
	b.ReportMetric(float64(len(s.a.nodes)), "states")
	b.ReportMetric(float64(s.a.nDense), "dense-states")
	b.ReportMetric(float64(s.a.nclass), "classes")
	b.ReportMetric(float64(s.a.edges.n), "hashed-edges")
	b.ReportMetric(float64(s.a.size())/1e6, "automaton-MB")
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap-inuse-MB")
	runtime.KeepAlive(s)
}

// BenchmarkScan10MiB: 10 MiB of log lines with a few hundred values embedded in mixed
// encodings, against the same 10,000 values.
func BenchmarkScan10MiB(b *testing.B) {
	values := scanBenchValues(10_000)
	s := NewScanner(values)
	text, embedded := scanBenchText(10<<20, values)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	var found []Finding
	for range b.N {
		var err error
		found, _, err = s.Scan(bytes.NewReader(text), 100_000)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(found) < embedded {
		b.Fatalf("%d findings for %d embedded values", len(found), embedded)
	}
	b.ReportMetric(float64(len(found)), "findings")
	reportAutomaton(b, s)
}

// BenchmarkScanBase64Text: 10 MiB of random base64url lines, the worst ordinary text for
// the automaton (every byte is in the values' alphabets, so it keeps leaving the shallow
// states), against the same 10,000 values.
func BenchmarkScanBase64Text(b *testing.B) {
	values := scanBenchValues(10_000)
	s := NewScanner(values)
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 60)
	var text []byte
	for len(text) < 10<<20 {
		for j := range raw {
			raw[j] = byte(rng.IntN(256))
		}
		text = base64.RawURLEncoding.AppendEncode(text, raw)
		text = append(text, '\n')
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, err := s.Scan(bytes.NewReader(text), 100); err != nil {
			b.Fatal(err)
		}
	}
}
