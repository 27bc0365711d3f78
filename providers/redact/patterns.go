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
// URL-safe base64 with and without padding (and the cores below), url.QueryEscape and
// url.PathEscape, the inside of a JSON string (with and without encoding/json's HTML
// escaping), and lower- and upper-case hex. Duplicates (a plain alphanumeric value is its
// own escape) are dropped.
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
	forms = append(forms, base64Cores(v, base64.RawStdEncoding)...)
	forms = append(forms, base64Cores(v, base64.RawURLEncoding)...)
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

// base64Cores returns, for each of the three byte offsets modulo 3 at which v can sit inside
// a larger base64-encoded text (an HTTP Basic credential "user:password", a value in a
// base64'd JSON body), the characters of that encoding that depend on v's bits alone. The
// one or two characters at each edge that mix v's bits with its neighbours' differ with
// the neighbours, so they are not part of the pattern and are left unmasked: they carry at
// most 4 bits of v each.
func base64Cores(v []byte, enc *base64.Encoding) []string {
	cores := make([]string, 0, 3)
	for k := range 3 {
		buf := make([]byte, k+len(v))
		copy(buf[k:], v)
		s := enc.EncodeToString(buf)
		first := (8*k + 5) / 6       // the first character all of whose 6 bits are v's
		last := 8 * (k + len(v)) / 6 // one past the last such character
		if last > first {
			cores = append(cores, s[first:last])
		}
	}
	return cores
}
