package apiclient

import (
	"bytes"
	"io"
	"net/http"
)

// HandlerTransport serves each request with h in the calling goroutine: a Client over
// it calls a server in the same process through the same routes, checks and audit as a
// remote client, without a socket. The request's context reaches h unchanged (it may
// carry who the request is on behalf of).
func HandlerTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, req)
	if rec.err != nil {
		return nil, rec.err
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(rec.status), StatusCode: rec.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// recorder is what the handler wrote, bounded by MaxAnswerBytes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	err    error
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > MaxAnswerBytes {
		r.err = errAnswerTooLarge
		return 0, r.err
	}
	return r.body.Write(p)
}
