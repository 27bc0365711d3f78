package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// api is a minimal JSON client of the ledger.
type api struct {
	base  string
	token string
	http  *http.Client
}

func newAPI(base, token string, conns int) *api {
	tr := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute}
	return &api{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// response is a decoded answer: its body and the log position it reports.
type response struct {
	status   int
	body     []byte
	position int64
}

func (a *api) call(ctx context.Context, token, method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	pos, _ := strconv.ParseInt(resp.Header.Get("X-Ledger-Position"), 10, 64)
	return response{status: resp.StatusCode, body: b, position: pos}, nil
}

// do calls as the board and fails unless the status is want; out, when set, receives
// the decoded body.
func (a *api) do(ctx context.Context, method, path string, body any, want int, out any) (response, error) {
	return a.as(ctx, a.token, method, path, body, want, out)
}

func (a *api) as(ctx context.Context, token, method, path string, body any, want int, out any) (response, error) {
	r, err := a.call(ctx, token, method, path, body)
	if err != nil {
		return r, err
	}
	if r.status != want {
		msg := r.body
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return r, fmt.Errorf("%s %s: HTTP %d: %s", method, path, r.status, msg)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			return r, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return r, nil
}
