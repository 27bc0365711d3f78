package redact

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestNoValueInOutput: random values, each planted in random encodings among random text,
// written in random chunks; no encoded form of any value may reach the output, and the
// streamed output must equal the whole-text result.
func TestNoValueInOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	for round := range rounds {
		secrets := make([]Secret, 1+rng.IntN(6))
		for i := range secrets {
			v := make([]byte, MinLength+rng.IntN(24))
			for j := range v {
				if rng.IntN(2) == 0 {
					v[j] = byte(rng.IntN(256))
				} else {
					v[j] = "abcxyz019+/=-_%&<\"\\\n "[rng.IntN(21)]
				}
			}
			secrets[i] = Secret{Key: fmt.Sprintf("key-%d", i), Value: v}
		}
		r := New(secrets, Options{})
		var forms [][]byte
		for _, s := range secrets {
			for _, f := range encodings(s.Value) {
				forms = append(forms, f.text)
			}
		}
		var in []byte
		for range 40 {
			switch rng.IntN(3) {
			case 0:
				in = append(in, forms[rng.IntN(len(forms))]...)
			case 1:
				f := forms[rng.IntN(len(forms))]
				in = append(in, f[:rng.IntN(len(f))]...)
			default:
				for range rng.IntN(20) {
					in = append(in, "abcxyz019+/=-_%&<\"\\\n "[rng.IntN(21)])
				}
			}
		}
		var cuts []int
		for c := rng.IntN(8) + 1; c < len(in); c += 1 + rng.IntN(16) {
			cuts = append(cuts, c)
		}
		got := writeChunks(t, r, in, cuts)
		if whole := string(r.Bytes(in)); got != whole {
			t.Fatalf("round %d: streamed output differs from whole-text output", round)
		}
		for i, f := range forms {
			if bytes.Contains([]byte(got), f) {
				t.Fatalf("round %d: form %d of a value is in the output", round, i)
			}
		}
	}
}
