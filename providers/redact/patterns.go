package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
)

// encodings returns the forms of v the redactor looks for: the raw bytes, standard and
// URL-safe base64 with and without padding, url.QueryEscape and url.PathEscape, the inside
// of a JSON string (with and without encoding/json's HTML escaping), and lower- and
// upper-case hex. Duplicates (a plain alphanumeric value is its own escape) are dropped.
func encodings(v []byte) [][]byte {
	s := string(v)
	forms := []string{
		s,
		base64.StdEncoding.EncodeToString(v),
		base64.RawStdEncoding.EncodeToString(v),
		base64.URLEncoding.EncodeToString(v),
		base64.RawURLEncoding.EncodeToString(v),
		url.QueryEscape(s),
		url.PathEscape(s),
		jsonInner(s, true),
		jsonInner(s, false),
		hex.EncodeToString(v),
		strings.ToUpper(hex.EncodeToString(v)),
	}
	out := make([][]byte, 0, len(forms))
	seen := make(map[string]bool, len(forms))
	for _, f := range forms {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, []byte(f))
	}
	return out
}

// jsonInner is s as encoding/json writes it inside a string, without the quotes.
func jsonInner(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return ""
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) < 2 {
		return ""
	}
	return string(out[1 : len(out)-1])
}
