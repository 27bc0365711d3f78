package providers

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	v := NewValue([]byte("sk-canary-7f3a"))
	holder := struct {
		Name  string
		Value Value
	}{"x", v}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, arg := range []any{v, holder, &holder} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, "canary") || strings.Contains(out, "736b2d") {
				t.Errorf("%s of %T leaks: %s", verb, arg, out)
			}
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "value", v, "holder", holder)
	if strings.Contains(buf.String(), "canary") {
		t.Errorf("slog leaks: %s", buf.String())
	}
	if string(v.Reveal()) != "sk-canary-7f3a" || v.Len() != 14 {
		t.Fatal("Reveal lost the bytes")
	}
}
