package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxAnswerBytes bounds what one answer may hold (a page is at most 1,000 rows).
const MaxAnswerBytes = 64 << 20

// Client calls the API as one credential.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the server at base (scheme and host, no trailing path) that
// sends token as its bearer credential ("": none). hc nil is http.DefaultClient.
func New(base, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}
}

// Base is the server's address as given to New.
func (c *Client) Base() string { return c.base }

// WithToken returns a client of the same server and transport with another credential
// (an agent key, for a resolution).
func (c *Client) WithToken(token string) *Client {
	return &Client{base: c.base, token: token, http: c.http}
}

// Answer is a successful answer: its status, headers and body as the server wrote them.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Position is the log position a command's answer reports (X-Ledger-Position), 0 when
// it appended nothing.
func (a *Answer) Position() int64 {
	p, _ := strconv.ParseInt(a.Header.Get("X-Ledger-Position"), 10, 64)
	return p
}

// Error is an answer other than 2xx: its status and the API's safe message and code.
type Error struct {
	Status  int
	Message string
	Code    string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status) }

// errorBody is the API's error answer (the document's Error schema).
type errorBody struct {
	Error   string       `json:"error"`
	Details errorDetails `json:"details"`
}

type errorDetails struct {
	Code string `json:"code"`
}

// Option changes one call.
type Option func(*http.Request)

// IdempotencyKey makes a command safe to repeat: a repeat with the same key is one
// write ("": none).
func IdempotencyKey(key string) Option {
	return func(r *http.Request) {
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
	}
}

// ReachError is a request that got no answer: the server could not be reached.
type ReachError struct {
	Base string
	Err  error
}

func (e *ReachError) Error() string {
	return fmt.Sprintf("cannot reach the ledger at %s: %v", e.Base, e.Err)
}
func (e *ReachError) Unwrap() error { return e.Err }

// Do sends method path?query with body (JSON; nil: none) and returns a 2xx answer, or
// an *Error for another status. path is the document's path with its parameters
// already escaped (see Path).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any, opts ...Option) (*Answer, error) {
	resp, err := c.send(ctx, method, path, query, body, opts)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("apiclient: read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, answerError(resp.StatusCode, raw)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// Stream is Do for an answer read as it comes (the audit export): the caller closes
// the body of a 2xx answer; another status is an *Error.
func (c *Client) Stream(ctx context.Context, method, path string, query url.Values) (*http.Response, error) {
	resp, err := c.send(ctx, method, path, query, nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, answerError(resp.StatusCode, raw)
	}
	return resp, nil
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any, opts []Option) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("apiclient: encode the request of %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("apiclient: build %s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &ReachError{Base: c.base, Err: err}
	}
	return resp, nil
}

func answerError(status int, raw []byte) *Error {
	var e errorBody
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = http.StatusText(status)
	}
	return &Error{Status: status, Message: e.Error, Code: e.Details.Code}
}

// Path builds a path from the document's template: each {name} is replaced by the next
// value, escaped as one path segment (an id holding "/" or "?" stays one segment).
func Path(template string, values ...string) string {
	var b strings.Builder
	rest := template
	for _, v := range values {
		i, j := strings.IndexByte(rest, '{'), strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			panic("apiclient: more values than parameters in " + template)
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(v))
		rest = rest[j+1:]
	}
	if strings.IndexByte(rest, '{') >= 0 {
		panic("apiclient: fewer values than parameters in " + template)
	}
	b.WriteString(rest)
	return b.String()
}

// call is Do for an operation whose answer decodes into T.
func call[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any, opts ...Option) (T, *Answer, error) {
	var out T
	a, err := c.Do(ctx, method, path, query, body, opts...)
	if err != nil {
		return out, nil, err
	}
	if len(a.Body) == 0 {
		return out, a, nil
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return out, a, fmt.Errorf("apiclient: unexpected answer to %s %s: %w", method, path, err)
	}
	return out, a, nil
}

var errAnswerTooLarge = fmt.Errorf("apiclient: an answer is larger than %d bytes", MaxAnswerBytes)

// All follows a list's pages from the first to the last and returns every item; list
// reads one page given the query (q holds limit and, after the first page, cursor).
func All[T any](q url.Values, list func(q url.Values) (Page[T], *Answer, error)) ([]T, error) {
	items := []T{}
	q = cloneValues(q)
	q.Set("limit", "1000")
	for {
		page, _, err := list(q)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if page.Next() == "" {
			return items, nil
		}
		q.Set("cursor", page.Next())
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}
