package events

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestWithoutCredentials(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, out string
		removed []string
	}{
		{`{"keyId": "k", "tokenHash": "ab"}`, `{"keyId":"k"}`, []string{"tokenHash"}},
		{`{"label": "x", "passwordHash": "$2a$"}`, `{"label":"x"}`, []string{"passwordHash"}},
		{`{"keyId": "k"}`, `{"keyId": "k"}`, nil},
		{`{"label": "tokenHash"}`, `{"label": "tokenHash"}`, nil}, // the name as a value is no credential
		{`["tokenHash"]`, `{}`, []string{"*"}},
	} {
		out, removed := WithoutCredentials(json.RawMessage(c.in))
		if string(out) != c.out || !reflect.DeepEqual(removed, c.removed) {
			t.Errorf("%s: %s %v, want %s %v", c.in, out, removed, c.out, c.removed)
		}
	}
}
