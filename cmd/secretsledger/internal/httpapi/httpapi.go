package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Check is one readiness check: it returns a short detail, or an error when the
// dependency is not ready.
type Check struct {
	Name string
	Run  func(ctx context.Context) (detail string, err error)
	// Degrades marks a dependency the ledger works without (NATS): its failure makes
	// the status "degraded" but /readyz still answers 200.
	Degrades bool
}

// checkTimeout bounds each readiness check, so /readyz answers even when a
// dependency hangs.
const checkTimeout = 3 * time.Second

// Deps is what the router needs; nil API leaves out the /api routes.
type Deps struct {
	Log    *slog.Logger
	Checks []Check
	// Roles, when set, lists the background roles this process holds (in /readyz).
	Roles func() []string
	// Requests, when set, hears every answered request (metrics).
	Requests RequestObserver
	// Metrics, when set, is served at GET /metrics without authentication (the metrics
	// carry no ids, names or values; operators restrict the path at their proxy).
	Metrics http.Handler
	// Console, when set with API, is served under /console/; it gets the /api
	// handler, to call in-process with OnBehalfOf.
	Console func(api http.Handler) http.Handler
	// API, when set, is served under /api; the router is built from a copy of it.
	API *API
}

// NewRouter returns the HTTP handler: /healthz (the process is up), /readyz (every
// check passes), with Metrics /metrics and, with API, the /api routes. Every
// answer, a 404 or 405 included, carries X-Request-Id and is logged on one line; a
// panicking handler answers 500 and the server keeps serving.
func NewRouter(d Deps) http.Handler {
	log, checks := d.Log, d.Checks
	r := mux.NewRouter()
	r.Use(observe(log, d.Requests, true)) // runs outside the subrouters' own middleware
	if d.API != nil {
		api := r.PathPrefix("/api").Subrouter()
		api.Use(checkedRequest(log))
		d.API.routes(api, log)
		if d.Console != nil {
			r.PathPrefix("/console").Handler(d.Console(api))
		}
	}
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	r.HandleFunc("/readyz", readyz(log, checks, d.Roles)).Methods(http.MethodGet)
	r.HandleFunc("/api/openapi.json", openAPI(log)).Methods(http.MethodGet)
	if d.Metrics != nil {
		r.Handle("/metrics", d.Metrics).Methods(http.MethodGet)
	}
	unmatched := observe(log, d.Requests, false)(unmatchedRoute(r, log)) // the router's middleware skips these
	r.NotFoundHandler, r.MethodNotAllowedHandler = unmatched, unmatched
	return r
}

// routeMethods are the methods the API's routes use.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatchedRoute answers a request no route took: 405 with Allow when the path exists
// with other methods, else 404. (The router alone answers 404 for a wrong method on
// a subrouter's path.)
func unmatchedRoute(root *mux.Router, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range routeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			var match mux.RouteMatch
			if m != r.Method && root.Match(probe, &match) && match.MatchErr == nil {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			WriteError(w, log, ledgererr.New(ledgererr.NotFound, "no such route"))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method " + r.Method + " is not allowed here; allowed: " +
			strings.Join(allow, ", "), Details: errorDetails{Code: "EMETHOD"}})
	})
}

type checkResult struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func readyz(log *slog.Logger, checks []Check, roles func() []string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		results := map[string]checkResult{}
		ready, degraded := true, false
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			detail, err := c.Run(ctx)
			cancel()
			if err != nil {
				if c.Degrades {
					degraded = true
				} else {
					ready = false
				}
				log.Warn("readiness check failed", "check", c.Name, "err", err)
				detail = ledgererr.MessageOf(err)
			}
			results[c.Name] = checkResult{OK: err == nil, Detail: detail}
		}
		status, code := "ready", http.StatusOK
		if degraded {
			status = "degraded"
		}
		if !ready {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
		body := map[string]any{"status": status, "checks": results}
		if roles != nil {
			body["roles"] = roles()
		}
		writeJSON(w, code, body)
	}
}

type errorDetails struct {
	Code string `json:"code"`
	// ProviderCode is the provider's finer code (provider_guardrail, access_denied, …).
	ProviderCode string `json:"providerCode,omitempty"`
	// Reason is the ledger's finer code (external_prefix_not_approved, …).
	Reason string `json:"reason,omitempty"`
}

type errorBody struct {
	Error   string       `json:"error"`
	Details errorDetails `json:"details"`
}

var statusOf = map[ledgererr.Code]int{
	ledgererr.BadRequest:   http.StatusBadRequest,
	ledgererr.Unauthorized: http.StatusUnauthorized,
	ledgererr.TooLarge:     http.StatusRequestEntityTooLarge,
	ledgererr.Invalid:      http.StatusUnprocessableEntity,
	ledgererr.NotFound:     http.StatusNotFound,
	ledgererr.Conflict:     http.StatusConflict,
	ledgererr.Forbidden:    http.StatusForbidden,
	ledgererr.Unavailable:  http.StatusServiceUnavailable,
	ledgererr.Internal:     http.StatusInternalServerError,

	ledgererr.TooManyRequests: http.StatusTooManyRequests,
	ledgererr.BadGateway:      http.StatusBadGateway,
}

// WriteError writes err as the API's error body. Internal errors are logged in full
// here, where they are handled, and leave as a generic message. A request cancelled
// because its client went away gets nothing: there is no one to answer, and nothing
// went wrong (the request log line says 499).
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	if clientGone(w, err) {
		return
	}
	err = timedOut(clientDataError(err))
	code := ledgererr.CodeOf(err)
	if code == ledgererr.Internal {
		var id string
		if rec, ok := w.(*recorder); ok {
			id = rec.info.id
		}
		log.Error("internal error", "err", err, "request_id", id)
	}
	writeJSON(w, statusOf[code], errorBody{Error: ledgererr.MessageOf(err),
		Details: errorDetails{Code: string(code), ProviderCode: providers.ProviderCodeOf(err), Reason: ledgererr.ReasonOf(err)}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
