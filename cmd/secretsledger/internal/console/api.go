package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// maxAnswerBytes bounds what one in-process API answer may hold (the API's pages are
// at most 1,000 rows).
const maxAnswerBytes = 8 << 20

// apiError is an API answer other than 2xx: its status and the API's safe message and code.
type apiError struct {
	Status  int
	Message string
	Code    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// api calls the REST API in-process for one actor: the same routes, checks, audit and
// answers as a client holding the actor's token gets.
type api struct {
	handler http.Handler
	actor   actor.Actor
	ctx     context.Context
}

// answer is what the in-process API call wrote.
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answer) Header() http.Header { return a.header }
func (a *answer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}
func (a *answer) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.body.Len()+len(p) > maxAnswerBytes {
		return 0, fmt.Errorf("console: an API answer is larger than %d bytes", maxAnswerBytes)
	}
	return a.body.Write(p)
}

// call runs method path?query with body (JSON, nil for none) and decodes a 2xx answer
// into out (nil: ignored). idempotencyKey, when set, makes a repeated form post one write.
func (c api) call(method, path string, query url.Values, body any, idempotencyKey string, out any) error {
	var reader io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("console: encode a request: %w", err)
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(httpapi.OnBehalfOf(c.ctx, c.actor), method, "/", reader)
	if err != nil {
		return fmt.Errorf("console: build a request: %w", err)
	}
	// Set, not parsed: an id taken from a console URL stays one path segment, whatever
	// it holds ("?" included).
	req.URL.Path, req.URL.RawQuery = path, query.Encode()
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	ans := &answer{header: http.Header{}}
	c.handler.ServeHTTP(ans, req)
	if ans.status == 0 {
		ans.status = http.StatusOK
	}
	if ans.status < 200 || ans.status > 299 {
		var e struct {
			Error   string `json:"error"`
			Details struct {
				Code string `json:"code"`
			} `json:"details"`
		}
		if json.Unmarshal(ans.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = http.StatusText(ans.status)
		}
		return &apiError{Status: ans.status, Message: e.Error, Code: e.Details.Code}
	}
	if out == nil || ans.body.Len() == 0 {
		return nil
	}
	// Numbers stay as the API wrote them: a position of 1,000,000 is not shown as 1e+06.
	dec := json.NewDecoder(&ans.body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("console: decode the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// get is call for a GET.
func (c api) get(path string, query url.Values, out any) error {
	return c.call(http.MethodGet, path, query, nil, "", out)
}
