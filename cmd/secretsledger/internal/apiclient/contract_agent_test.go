package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/secretsledger/secretsledger/agent"
)

// agentContract is every operation of package agent, the runtime routes an agent key is
// admitted to (one client of them, not two: this package has none), with a call that
// makes it and the Go types of its request body and answer.
var agentContract = []struct {
	id      string
	call    func(context.Context, *agent.Client) error
	in, out any
}{
	{"resolve", func(ctx context.Context, c *agent.Client) error {
		_, err := c.Resolve(ctx, agent.ResolveRequest{ConfigPaths: []string{"env.A"}, RunID: "r", IssueID: "i"})
		return err
	}, agent.ResolveRequest{}, agent.Resolution{}},
	{"redact", func(ctx context.Context, c *agent.Client) error {
		_, err := c.Redact(ctx, agent.RedactRequest{Text: "t", RunID: "r", IssueID: "i"})
		return err
	}, agent.RedactRequest{}, agent.Redaction{}},
	{"runtimeChanges", func(ctx context.Context, c *agent.Client) error {
		_, err := c.Changes(ctx, 7, 1)
		return err
	}, nil, agent.Changes{}},
}

// Package agent's calls go to the document's operation of their id (method and path as
// sent, query parameters the document declares), and its request and answer types have
// exactly the members of the document's schemas, as this package's own are held.
func TestAgentClientMatchesTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	byID := documentOperations(t)
	var mu sync.Mutex
	var sent *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = r
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := agent.New(srv.URL, "sla_contract.key", nil)
	listed := map[string]bool{}
	for _, tc := range agentContract {
		listed[tc.id] = true
		doc, ok := byID[tc.id]
		if !ok {
			t.Errorf("%s: the document has no such operation", tc.id)
			continue
		}
		if err := tc.call(context.Background(), c); err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		mu.Lock()
		method, path, query := sent.Method, sent.URL.Path, sent.URL.Query()
		mu.Unlock()
		if method != doc.method || path != doc.path {
			t.Errorf("%s: agent calls %s %s, the document says %s %s", tc.id, method, path, doc.method, doc.path)
		}
		for name := range query {
			if p := doc.op.Parameters.GetByInAndName("query", name); p == nil {
				t.Errorf("%s: agent sends the query parameter %s, which the document does not declare", tc.id, name)
			}
		}
		if tc.in != nil {
			body := doc.op.RequestBody
			if body == nil || body.Value.Content.Get("application/json") == nil {
				t.Errorf("%s: agent sends a body the document does not take", tc.id)
			} else {
				match(t, tc.id+" request", reflect.TypeOf(tc.in), body.Value.Content.Get("application/json").Schema, true)
			}
		}
		match(t, tc.id+" answer", reflect.TypeOf(tc.out), answerSchema(t, tc.id, doc.op), false)
	}
	// Every runtime route of the document is one of agent's.
	for id, doc := range byID {
		if strings.HasPrefix(doc.path, "/api/runtime/") && !listed[id] {
			t.Errorf("%s (%s %s) is a runtime route that package agent does not call", id, doc.method, doc.path)
		}
	}
}
