package console

import (
	"fmt"
	"html/template"
	"net/url"
	"time"
)

var templateFuncs = template.FuncMap{
	"when":  when,
	"query": query,
	"pathq": url.PathEscape,
}

// when shows an RFC 3339 time from the API in UTC to the second; anything else as it is.
func when(v any) string {
	if p, ok := v.(*string); ok {
		if p == nil {
			return "—"
		}
		v = *p
	}
	s, ok := v.(string)
	if !ok || s == "" {
		if v == nil {
			return "—"
		}
		return fmt.Sprint(v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// query builds a query string from name, value pairs, leaving out empty values.
func query(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
