package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The routes an agent key is admitted to.
const (
	PathResolve = "/api/runtime/resolve"
	PathRedact  = "/api/runtime/redact"
	PathChanges = "/api/runtime/changes"
)

// maxAnswerBytes bounds one answer: a resolution of a large env, or a redacted text of
// at most 512 KiB, JSON-escaped.
const maxAnswerBytes = 16 << 20

// Client calls the runtime routes with one agent key. It is safe for concurrent use.
type Client struct {
	base string
	key  string
	http *http.Client
}

// New returns a client of the server at base (scheme and host, e.g.
// "https://ledger.example:8443") that authenticates with agentKey. hc nil is
// http.DefaultClient; give one with a TLS configuration for a private CA. A poll of the
// change feed waits up to its wait on the server, so hc's Timeout, if any, must be longer.
func New(base, agentKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), key: agentKey, http: hc}
}

// Error is an answer other than 2xx: the server's status, its error code and its safe
// message (paths and outcome codes at most, never a value).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status) }

// Refused reports whether the server refused the key: 401 (revoked or unknown) or 403
// (the company or the consumer frozen). Asking again will not help.
func (e *Error) Refused() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// Refused reports whether err is, or wraps, an *Error refusing the key.
func Refused(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Refused()
}

// ReachError is a call that got no answer: the server could not be reached, or the
// connection broke before the answer was read.
type ReachError struct {
	Base string
	Err  error
}

func (e *ReachError) Error() string {
	return fmt.Sprintf("cannot reach the ledger at %s: %v", e.Base, e.Err)
}
func (e *ReachError) Unwrap() error { return e.Err }

// Resolve resolves the consumer's values. Each attempt is recorded by the server before
// any value leaves it. A failed required path is an *Error with status 422.
func (c *Client) Resolve(ctx context.Context, in ResolveRequest) (Resolution, error) {
	var out Resolution
	err := c.call(ctx, http.MethodPost, PathResolve, nil, in, &out)
	return out, err
}

// Redact masks the consumer's current values in text, server-side, without the caller
// holding them. Each value looked for is recorded as an access.
func (c *Client) Redact(ctx context.Context, in RedactRequest) (Redaction, error) {
	var out Redaction
	err := c.call(ctx, http.MethodPost, PathRedact, nil, in, &out)
	return out, err
}

// Changes is one poll of the change feed: it waits up to wait seconds (1 to 30; 0: the
// server's default) for a change of the key's resolution after position after, and
// answers with changes empty when none came. after < 0 asks for the log's head, at once.
// ctx must allow for the wait.
func (c *Client) Changes(ctx context.Context, after int64, wait int) (Changes, error) {
	q := url.Values{}
	if after >= 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if wait > 0 {
		q.Set("wait", strconv.Itoa(wait))
	}
	var out Changes
	err := c.call(ctx, http.MethodGet, PathChanges, q, nil, &out)
	return out, err
}

// Head is the change feed's position now: follow from it, read before resolving, and no
// change after the resolution is missed.
func (c *Client) Head(ctx context.Context) (int64, error) {
	got, err := c.Changes(ctx, -1, 0)
	return got.Position, err
}

// call sends one request and decodes a 2xx answer into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("agent: encode the request of %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(raw)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("agent: build %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &ReachError{Base: c.base, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return &ReachError{Base: c.base, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answerError(resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("agent: unexpected answer to %s %s: %w", method, path, err)
	}
	return nil
}

// answerError is the API's error answer (schema Error) as an *Error; an answer that is
// not one (a proxy's page) keeps the status and its text.
func answerError(status int, raw []byte) *Error {
	var e struct {
		Error   string `json:"error"`
		Details struct {
			Code string `json:"code"`
		} `json:"details"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = http.StatusText(status)
	}
	return &Error{Status: status, Code: e.Details.Code, Message: e.Error}
}
