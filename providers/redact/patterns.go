package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
)

// encoding names one of the forms encodings returns; encodingNames gives the Finding name.
type encoding uint8

const (
	encRaw encoding = iota
	encBase64
	encBase64URL
	encURL
	encJSON
	encHex
)

var encodingNames = [...]string{
	encRaw:       EncodingRaw,
	encBase64:    EncodingBase64,
	encBase64URL: EncodingBase64URL,
	encURL:       EncodingURL,
	encJSON:      EncodingJSON,
	encHex:       EncodingHex,
}

// form is one encoded form of a value and the encoding it is in.
type form struct {
	enc  encoding
	text []byte
}

// encodings returns the forms of v the redactor and the scanner look for: the raw bytes,
// standard and URL-safe base64 with and without padding (and the cores below),
// url.QueryEscape and url.PathEscape, the inside of a JSON string (with and without
// encoding/json's HTML escaping), and lower- and upper-case hex. Duplicates (a plain
// alphanumeric value is its own escape) are dropped, the first in that order kept, so a
// form that is two encodings at once is named by the first (raw before url, standard
// base64 before URL-safe).
func encodings(v []byte) []form {
	s := string(v)
	type named struct {
		enc encoding
		s   string
	}
	hexLower := hex.EncodeToString(v)
	forms := []named{
		{encRaw, s},
		{encBase64, base64.StdEncoding.EncodeToString(v)},
		{encBase64, base64.RawStdEncoding.EncodeToString(v)},
		{encBase64URL, base64.URLEncoding.EncodeToString(v)},
		{encBase64URL, base64.RawURLEncoding.EncodeToString(v)},
		{encURL, url.QueryEscape(s)},
		{encURL, url.PathEscape(s)},
		{encJSON, jsonInner(s, true)},
		{encJSON, jsonInner(s, false)},
		{encHex, hexLower},
		{encHex, strings.ToUpper(hexLower)},
	}
	for _, c := range base64Cores(v, base64.RawStdEncoding) {
		forms = append(forms, named{encBase64, c})
	}
	for _, c := range base64Cores(v, base64.RawURLEncoding) {
		forms = append(forms, named{encBase64URL, c})
	}
	out := make([]form, 0, len(forms))
	seen := make(map[string]bool, len(forms))
	for _, f := range forms {
		if f.s == "" || seen[f.s] {
			continue
		}
		seen[f.s] = true
		out = append(out, form{enc: f.enc, text: []byte(f.s)})
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
