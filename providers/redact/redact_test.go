package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

const openai = "sk-proj/A+b c&d<e>\"f\\g=h?i%j"

func newTest(t testing.TB, secrets ...Secret) *Redactor {
	t.Helper()
	return New(secrets, Options{})
}

func TestEachEncodingMasked(t *testing.T) {
	v := []byte(openai + "\x00\xff\n")
	r := newTest(t, Secret{Key: "openai-key", Value: v})
	htmlJSON, _ := json.Marshal(string(v))
	forms := map[string]string{
		"raw":           string(v),
		"base64":        base64.StdEncoding.EncodeToString(v),
		"base64 raw":    base64.RawStdEncoding.EncodeToString(v),
		"base64url":     base64.URLEncoding.EncodeToString(v),
		"base64url raw": base64.RawURLEncoding.EncodeToString(v),
		"query escape":  url.QueryEscape(string(v)),
		"path escape":   url.PathEscape(string(v)),
		"json":          string(htmlJSON[1 : len(htmlJSON)-1]),
		"json no html":  jsonInner(string(v), false),
		"hex":           hex.EncodeToString(v),
		"HEX":           strings.ToUpper(hex.EncodeToString(v)),
	}
	for name, form := range forms {
		in := "before " + form + " after"
		got := r.String(in)
		if want := "before [REDACTED:openai-key] after"; got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

func TestMaskedAtTextEdges(t *testing.T) {
	r := newTest(t, Secret{Key: "k", Value: []byte("0123456789")})
	for in, want := range map[string]string{
		"0123456789":           "[REDACTED:k]",
		"01234567890123456789": "[REDACTED:k][REDACTED:k]",
		"x0123456789":          "x[REDACTED:k]",
		"012345678":            "012345678",
		"":                     "",
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShortValuesSkippedAndReported(t *testing.T) {
	r := New([]Secret{
		{Key: "pin", Value: []byte("1234")},
		{Key: "seven", Value: []byte("abcdefg")},
		{Key: "empty"},
		{Key: "eight", Value: []byte("abcdefgh")},
	}, Options{})
	if got := strings.Join(r.Skipped(), ","); got != "pin,seven,empty" {
		t.Errorf("Skipped() = %q", got)
	}
	if got := strings.Join(r.Masked(), ","); got != "eight" {
		t.Errorf("Masked() = %q", got)
	}
	if got := r.String("1234 abcdefg abcdefgh"); got != "1234 abcdefg [REDACTED:eight]" {
		t.Errorf("got %q", got)
	}
	raised := New([]Secret{{Key: "eight", Value: []byte("abcdefgh")}}, Options{MinLength: 9})
	if got := raised.Skipped(); len(got) != 1 || got[0] != "eight" {
		t.Errorf("MinLength 9: Skipped() = %q", got)
	}
	lowered := New([]Secret{{Key: "pin", Value: []byte("1234")}}, Options{MinLength: 2})
	if got := lowered.String("1234"); got != "1234" {
		t.Errorf("MinLength below the floor masked a short value: %q", got)
	}
}

func TestOverlappingValues(t *testing.T) {
	r := newTest(t,
		Secret{Key: "short", Value: []byte("abcdefgh")},
		Secret{Key: "long", Value: []byte("abcdefghijkl")},
		Secret{Key: "tail", Value: []byte("ijklmnopqr")},
		Secret{Key: "inner", Value: []byte("cdefghij")},
	)
	cases := map[string]string{
		// the longer value contains the shorter one: the longer one names the mask
		"x abcdefghijkl y": "x [REDACTED:long] y",
		"x abcdefgh y":     "x [REDACTED:short] y",
		// two values overlap: both masked as one, no byte of either left
		"x abcdefghijklmnopqr y": "x [REDACTED:long] y",
		"x cdefghij y":           "x [REDACTED:inner] y",
	}
	for in, want := range cases {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameEncodingFirstKeyWins(t *testing.T) {
	r := newTest(t,
		Secret{Key: "first", Value: []byte("same-value-1")},
		Secret{Key: "second", Value: []byte("same-value-1")},
	)
	if got := r.String("same-value-1"); got != "[REDACTED:first]" {
		t.Errorf("got %q", got)
	}
}

// writeChunks writes in through a Writer cut at the given positions and returns the output.
func writeChunks(t testing.TB, r *Redactor, in []byte, cuts []int) string {
	t.Helper()
	var out bytes.Buffer
	w := r.Writer(&out)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		n, err := w.Write(in[prev:c])
		if err != nil || n != c-prev {
			t.Fatalf("Write = %d, %v; want %d", n, err, c-prev)
		}
		prev = c
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestSplitAcrossWritesAtEveryCut(t *testing.T) {
	v := []byte(openai)
	r := newTest(t, Secret{Key: "openai-key", Value: v})
	for _, form := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v)), []byte(hex.EncodeToString(v))} {
		in := append(append([]byte("log: "), form...), " done\n"...)
		want := "log: [REDACTED:openai-key] done\n"
		for i := 1; i < len(in); i++ {
			if got := writeChunks(t, r, in, []int{i}); got != want {
				t.Fatalf("cut at %d: got %q", i, got)
			}
			for j := i + 1; j < len(in); j += 3 {
				if got := writeChunks(t, r, in, []int{i, j}); got != want {
					t.Fatalf("cuts at %d,%d: got %q", i, j, got)
				}
			}
		}
		// one byte per write
		var cuts []int
		for i := 1; i < len(in); i++ {
			cuts = append(cuts, i)
		}
		if got := writeChunks(t, r, in, cuts); got != want {
			t.Fatalf("byte by byte: got %q", got)
		}
	}
}

func TestCloseFlushesTail(t *testing.T) {
	r := newTest(t, Secret{Key: "k", Value: []byte("0123456789")})
	var out bytes.Buffer
	w := r.Writer(&out)
	if _, err := w.Write([]byte("ends with a prefix 012345")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "ends with a prefix " {
		t.Fatalf("before Close: %q; the prefix of a value must be held back", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "ends with a prefix 012345" {
		t.Fatalf("after Close: %q", got)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseFlushesMatchedTail(t *testing.T) {
	r := newTest(t, Secret{Key: "k", Value: []byte("0123456789")}, Secret{Key: "k2", Value: []byte("0123456789abc")})
	if got := writeChunks(t, r, []byte("x 0123456789"), nil); got != "x [REDACTED:k]" {
		t.Fatalf("got %q", got)
	}
}

func TestNewlineFlushesLine(t *testing.T) {
	r := newTest(t, Secret{Key: "k", Value: []byte("0123456789")})
	var out bytes.Buffer
	w := r.Writer(&out)
	for _, line := range []string{"first 0123456789\n", "second 01234\n", "third\n"} {
		before := out.Len()
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(out.Bytes()[before:], []byte("\n")) {
			t.Fatalf("line %q held back: wrote %q", line, out.Bytes()[before:])
		}
	}
	if got := out.String(); got != "first [REDACTED:k]\nsecond 01234\nthird\n" {
		t.Fatalf("got %q", got)
	}
}

func TestHeldBackBounded(t *testing.T) {
	v := []byte("abcdefghijklmnop")
	r := newTest(t, Secret{Key: "k", Value: v})
	longest := r.a.longest
	var out bytes.Buffer
	w := r.Writer(&out)
	s := &w.(*writer).s
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		p := []byte{"abcdefghijklmnop"[rng.IntN(16)]}
		if rng.IntN(50) == 0 {
			p = v[:rng.IntN(len(v))]
		}
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if held := len(s.pending); !s.inCluster && held > longest-1 {
			t.Fatalf("held back %d bytes, longest pattern %d", held, longest)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

var errFail = errors.New("destination failed")

func TestWriteErrorReturned(t *testing.T) {
	w := newTest(t).Writer(failWriter{})
	if _, err := w.Write([]byte("line\n")); !errors.Is(err, errFail) {
		t.Fatalf("Write to a failing destination: %v", err)
	}
	if _, err := w.Write([]byte("line\n")); err == nil {
		t.Fatal("no error on the next write")
	}
}

// TestBase64EmbeddedAtAnyOffset: a value inside a larger base64 text, at every offset,
// has the characters that depend on it alone masked; only the edge characters, which mix
// in the neighbours' bits, stay.
func TestBase64EmbeddedAtAnyOffset(t *testing.T) {
	v := []byte("hunter2-but-longer")
	r := newTest(t, Secret{Key: "pw", Value: v})
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		for pre := range 7 {
			for post := range 4 {
				plain := append(append([]byte("user:"[:min(pre, 5)]+strings.Repeat("x", max(pre-5, 0))), v...), "::::"[:post]...)
				encoded := enc.EncodeToString(plain)
				got := r.String("Authorization: Basic " + encoded)
				if !strings.Contains(got, "[REDACTED:pw]") {
					t.Fatalf("prefix %d, suffix %d: not masked: %q", pre, post, got)
				}
				masked := strings.TrimPrefix(got, "Authorization: Basic ")
				if edges := len(masked) - len("[REDACTED:pw]"); edges > 4*(pre+post+2)/3+2 {
					t.Fatalf("prefix %d, suffix %d: %d characters left around the mask: %q", pre, post, edges, got)
				}
			}
		}
	}
}

// TestEveryByteValue: values that between them use all 256 byte values, so no byte is left
// for "in no pattern".
func TestEveryByteValue(t *testing.T) {
	var secrets []Secret
	for i := 0; i < 256; i += 16 {
		v := make([]byte, 16)
		for j := range v {
			v[j] = byte(i + j)
		}
		secrets = append(secrets, Secret{Key: fmt.Sprintf("b%02x", i), Value: v})
	}
	r := New(secrets, Options{})
	for _, s := range secrets {
		in := "<" + string(s.Value) + ">" + base64.StdEncoding.EncodeToString(s.Value)
		if got, want := r.String(in), "<[REDACTED:"+s.Key+"]>[REDACTED:"+s.Key+"]"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
