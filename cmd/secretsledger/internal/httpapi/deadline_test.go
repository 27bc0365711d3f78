package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"
)

// A request whose database does not answer (here: a handler that waits for its
// context, as a query on a black-holed connection does) is answered 503 EUNAVAILABLE
// with the reason request_timeout once the request's bound passes: before the bound
// existed it waited as long as the connection hung, and the deadline error, carrying
// no code, was answered 500. The change feed's long poll keeps its longer bound.
func TestARequestThatOutlivesItsBoundIs503(t *testing.T) {
	defer func(d time.Duration) { requestTimeout = d }(requestTimeout)
	requestTimeout = 100 * time.Millisecond
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	root := mux.NewRouter()
	api := root.PathPrefix("/api").Subrouter()
	api.Use(checkedRequest(log))
	api.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		WriteError(w, log, fmt.Errorf("eventstore: read: %w", r.Context().Err()))
	})
	var exportBounded bool
	api.HandleFunc("/companies/{companyId}/audit/export", func(w http.ResponseWriter, r *http.Request) {
		_, exportBounded = r.Context().Deadline()
	})
	var feedBound time.Duration
	api.HandleFunc("/runtime/changes", func(w http.ResponseWriter, r *http.Request) {
		deadline, _ := r.Context().Deadline()
		feedBound = time.Until(deadline)
	})

	start := time.Now()
	rec := httptest.NewRecorder()
	root.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/stuck", nil))
	var body errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusServiceUnavailable || body.Details.Code != "EUNAVAILABLE" || body.Details.Reason != "request_timeout" {
		t.Fatalf("stuck request: %d %s", rec.Code, rec.Body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the stuck request was answered after %s, its bound is %s", took, requestTimeout)
	}
	root.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/runtime/changes", nil))
	root.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/companies/c/audit/export", nil))
	if exportBounded {
		t.Fatal("the audit export, which streams a whole log, got the request bound")
	}
	if feedBound < MaxChangeWait {
		t.Fatalf("the change feed's bound is %s, shorter than its wait %s", feedBound, MaxChangeWait)
	}
}
