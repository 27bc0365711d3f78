package main

// The HTTP client of the end-to-end tests: each answer checked against the OpenAPI
// document and kept, for the canary searches.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi/openapitest"
)

// apiClient talks to a running serve and keeps every response body, so that the
// canary test can search them all.
type apiClient struct {
	t    testing.TB
	base string
	// bases, when set, are the servers the requests take turns on (base is unused): a
	// write through one is followed by the next request through another.
	bases []string
	turn  atomic.Uint64
	token string
	// hc sends the requests; nil: http.DefaultClient.
	hc   *http.Client
	mu   sync.Mutex
	seen bytes.Buffer
}

func (e *instanceEnv) client(t testing.TB, token string) *apiClient {
	return &apiClient{t: t, base: "http://" + e.addr, token: token}
}

func (e *instanceEnv) instanceToken(t testing.TB) string {
	b, err := os.ReadFile(filepath.Join(e.home, "instances", "default", "board.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

type response struct {
	status int
	body   []byte
	header http.Header
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// list returns the items of one page of a list answer.
func (r response) list(t *testing.T) []map[string]any {
	t.Helper()
	var page struct {
		Items      *[]map[string]any `json:"items"`
		NextCursor *string           `json:"nextCursor"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || page.Items == nil {
		t.Fatalf("body %q is not a page (%v)", r.body, err)
	}
	return *page.Items
}

func (c *apiClient) do(method, path, body string, headers ...string) response {
	c.t.Helper()
	r, err := c.try(method, path, body, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// try is do for callers that expect transport errors (a server that is being killed):
// it returns them instead of failing the test, so it may run on any goroutine. An
// answer counts only when its body was read completely.
func (c *apiClient) try(method, path, body string, headers ...string) (response, error) {
	base := c.base
	if len(c.bases) > 0 {
		base = c.bases[(c.turn.Add(1)-1)%uint64(len(c.bases))]
	}
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := c.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	c.mu.Lock()
	c.seen.Write(b)
	c.seen.WriteString(fmt.Sprint(resp.Header))
	c.mu.Unlock()
	if err := checkOpenAPI(req, []byte(body), resp, b); err != nil {
		c.t.Errorf("OpenAPI: %v", err) // Errorf, not Fatal: try may run on any goroutine
	}
	return response{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

// checkOpenAPI holds one exchange with the server to the OpenAPI document
// (docs/openapi.yaml): every answer, and every request the server accepted. A path the
// document does not know is skipped unless the server took it.
func checkOpenAPI(req *http.Request, body []byte, resp *http.Response, answer []byte) error {
	checker, err := openapitest.Load()
	if err != nil {
		return err
	}
	err = checker.Check(req.Context(), openapitest.Exchange{Method: req.Method, URL: req.URL, Header: req.Header, Body: body,
		Status: resp.StatusCode, Answer: resp.Header, Answered: answer})
	if errors.Is(err, openapitest.ErrUnknownPath) {
		if resp.StatusCode < 300 {
			return fmt.Errorf("%s %s: answered %d, but the document has no such path", req.Method, req.URL.Path, resp.StatusCode)
		}
		return nil
	}
	return err
}

func (c *apiClient) must(status int, method, path, body string, headers ...string) response {
	c.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.status != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
	}
	return r
}

const companyA = "aaaaaaaa-0000-4000-8000-000000000001"
const companyB = "bbbbbbbb-0000-4000-8000-000000000002"

func canary(label string) string { return "canary-" + label + "-" + ulid.Make().String() }
