package httpapi

import (
	"strings"
	"testing"
	"unicode"
)

// The document holds what third parties generate clients from: every operation lists
// the 405 its path answers for other methods, every answer documents X-Request-Id, and
// no two components get the same name in a generated language.
func TestOpenAPIContractForGeneratedClients(t *testing.T) {
	t.Parallel()
	doc := checker(t).Doc()
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses.Value("405") == nil {
				t.Errorf("%s %s does not list 405 (MethodNotAllowed)", method, path)
			}
			for status, ref := range op.Responses.Map() {
				if ref.Value == nil || ref.Value.Headers["X-Request-Id"] == nil {
					t.Errorf("%s %s answer %s does not document X-Request-Id", method, path, status)
				}
			}
			for _, p := range op.Parameters {
				if s := p.Value.Schema; s != nil && s.Value != nil && len(s.Value.OneOf) > 0 {
					t.Errorf("%s %s parameter %s is a oneOf (generators cannot bind it): make it one type", method, path, p.Value.Name)
				}
			}
		}
	}
	names := map[string]string{}
	claim := func(kind, name string) {
		goName := pascal(name)
		if other, taken := names[goName]; taken {
			t.Errorf("%s %s and %s are both %s in generated Go", kind, name, other, goName)
		}
		names[goName] = kind + " " + name
	}
	for name := range doc.Components.Schemas {
		claim("schema", name)
	}
	for name := range doc.Components.Parameters {
		claim("parameter", name)
	}
	for name := range doc.Components.RequestBodies {
		claim("request body", name)
	}
	for name := range doc.Components.Responses {
		claim("response", name)
	}
}

// pascal is a component's name as oapi-codegen turns it into a Go type name.
func pascal(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}
