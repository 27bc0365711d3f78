package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// RequestTimeout bounds the work of one /api request. Without it a request whose
// database connection stopped answering (a network partition, a black-holed route: no
// reset ever comes) waited as long as the connection hung, and one whose connection
// lost bytes to such a fault waited forever; with it the request answers 503
// EUNAVAILABLE (reason request_timeout) and its connection is closed. A write that
// timed out may still commit: the client retries with its Idempotency-Key to learn
// the outcome, as after any lost answer.
const RequestTimeout = 15 * time.Second

// requestTimeout is RequestTimeout, shortened by tests.
var requestTimeout = RequestTimeout

// longRoutes wait longer than RequestTimeout by design: the change feed's long poll
// (its wait, then the usual bound) and the audit export, which streams a whole log.
// The export is bounded by the server's write timeout instead.
var longRoutes = map[string]time.Duration{
	"/api/runtime/changes":                    MaxChangeWait + RequestTimeout,
	"/api/companies/{companyId}/audit/export": 0,
}

// withDeadline puts the request's bound on its context.
func withDeadline(r *http.Request) (*http.Request, context.CancelFunc) {
	bound := requestTimeout
	if route := mux.CurrentRoute(r); route != nil {
		if tmpl, err := route.GetPathTemplate(); err == nil {
			if d, ok := longRoutes[tmpl]; ok {
				bound = d
			}
		}
	}
	if bound == 0 {
		return r, func() {}
	}
	ctx, cancel := context.WithTimeout(r.Context(), bound)
	return r.WithContext(ctx), cancel
}

// timedOut turns the request's own deadline, passed while a dependency did not answer,
// into 503 EUNAVAILABLE: the error otherwise carries no code and was answered 500, as if
// the ledger had a bug, when the client should retry.
func timedOut(err error) error {
	if ledgererr.CodeOf(err) != ledgererr.Internal || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &ledgererr.Error{Code: ledgererr.Unavailable, Reason: "request_timeout", Cause: err,
		Message: "the request did not finish within " + RequestTimeout.String() + ": the database or a provider did not answer; retry (with the same Idempotency-Key for a write)"}
}
