package redact

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

func benchSecrets(n int) []Secret {
	rng := rand.New(rand.NewPCG(3, 5))
	secrets := make([]Secret, n)
	for i := range secrets {
		v := make([]byte, 32)
		for j := range v {
			v[j] = byte(rng.IntN(256))
		}
		secrets[i] = Secret{Key: fmt.Sprintf("secret-%03d", i), Value: []byte(base64.RawURLEncoding.EncodeToString(v))}
	}
	return secrets
}

// benchText is log-like text of the given size with a value every 1,000 lines or so.
func benchText(size int, secrets []Secret) []byte {
	rng := rand.New(rand.NewPCG(9, 9))
	var b bytes.Buffer
	b.Grow(size + 256)
	for b.Len() < size {
		fmt.Fprintf(&b, "2026-12-07T15:10:25.%06dZ level=info msg=\"request served\" path=/v1/items/%d status=200 bytes=%d\n",
			rng.IntN(1e6), rng.IntN(1e5), rng.IntN(1e4))
		if rng.IntN(1000) == 0 {
			fmt.Fprintf(&b, "token=%s\n", secrets[rng.IntN(len(secrets))].Value)
		}
	}
	return b.Bytes()[:size]
}

// BenchmarkStreamingRedactor: 100 values (each in its 11 forms) over 100 MB, written in
// 32 KiB chunks as a pipe from a child process delivers them.
func BenchmarkStreamingRedactor(b *testing.B) {
	secrets := benchSecrets(100)
	r := New(secrets, Options{})
	text := benchText(100<<20, secrets)
	const chunk = 32 << 10
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := r.Writer(io.Discard)
		for off := 0; off < len(text); off += chunk {
			if _, err := w.Write(text[off:min(off+chunk, len(text))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedactorPerLine: the latency one line's write adds, a write per line as an
// interactive child prints them.
func BenchmarkRedactorPerLine(b *testing.B) {
	secrets := benchSecrets(100)
	r := New(secrets, Options{})
	line := []byte("2026-12-07T15:10:25.123456Z level=info msg=\"request served\" path=/v1/items/42 status=200\n")
	w := r.Writer(io.Discard)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew: compiling 100 values into the automaton.
func BenchmarkNew(b *testing.B) {
	secrets := benchSecrets(100)
	b.ReportAllocs()
	for range b.N {
		New(secrets, Options{})
	}
}
