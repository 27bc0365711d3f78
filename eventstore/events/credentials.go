package events

import (
	"bytes"
	"encoding/json"
)

// CredentialFields are payload fields that hold hashes of credentials (agent tokens,
// subscriber passwords). The log keeps them so that read models can be rebuilt; they
// never leave it: not on NATS, not in the events API, not in an audit export.
// WARNING: a new event carrying a credential hash must name its field here.
var CredentialFields = []string{"tokenHash", "tokenKeyedHash", "passwordHash"}

// WithoutCredentials returns payload without the CredentialFields, and the names of
// those it removed (nil, and payload itself, when it has none). A payload that is not
// a JSON object is returned as {}: nothing of it can be shown safely.
func WithoutCredentials(payload json.RawMessage) (json.RawMessage, []string) {
	found := false
	for _, f := range CredentialFields {
		found = found || bytes.Contains(payload, []byte(`"`+f+`"`))
	}
	if !found {
		return payload, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return json.RawMessage(`{}`), []string{"*"}
	}
	var removed []string
	for _, f := range CredentialFields {
		if _, ok := m[f]; ok {
			delete(m, f)
			removed = append(removed, f)
		}
	}
	if removed == nil {
		return payload, nil // the name appeared inside a value
	}
	out, _ := json.Marshal(m)
	return out, removed
}
