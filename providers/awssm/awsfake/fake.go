package awsfake

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Account is the account id in every ARN the fake makes.
const Account = "123456789012"

// Staging labels AWS manages itself.
const (
	Current  = "AWSCURRENT"
	Previous = "AWSPREVIOUS"
)

// Fault is what an injected failure does: wait Delay (or until the client gives up),
// then answer the error Code with Status, or, with no Code, handle the call normally.
type Fault struct {
	Code    string
	Status  int
	Message string
	Delay   time.Duration
}

// Throttling is AWS's ThrottlingException (HTTP 400), which the SDK retries.
func Throttling() Fault {
	return Fault{Code: "ThrottlingException", Status: http.StatusBadRequest, Message: "Rate exceeded"}
}

// ServiceError is AWS's InternalServiceError (HTTP 500).
func ServiceError() Fault {
	return Fault{Code: "InternalServiceError", Status: http.StatusInternalServerError, Message: "An error occurred on the server side."}
}

// Slow delays the answer by d, then handles the call.
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// Error answers the AWS error code with HTTP 400 (AccessDeniedException, …).
func Error(code string) Fault {
	return Fault{Code: code, Status: http.StatusBadRequest, Message: "injected " + code + " for arn:aws:secretsmanager:us-east-1:" + Account + ":secret:x"}
}

type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

func (v *version) same(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if v.str != nil && *v.str != *str {
		return false
	}
	return bytes.Equal(v.bin, bin)
}

type secret struct {
	name, arn, kms string
	description    string
	tags           []Tag
	versions       map[string]*version
	deleted        *time.Time
	created        time.Time
}

// Tag is a secret's tag as the API carries it.
type Tag struct {
	Key   string
	Value string
}

type injected struct {
	f Fault
	n int
}

// Server is the fake. Its methods may be called from any goroutine.
type Server struct {
	// URL is the endpoint to give the SDK as BaseEndpoint.
	URL string
	// Region appears in ARNs.
	Region string

	srv     *httptest.Server
	mu      sync.Mutex
	secrets map[string]*secret // by name
	calls   map[string]int
	faults  map[string][]*injected
}

// New starts a fake for region and stops it when the test ends.
func New(tb testing.TB, region string) *Server {
	s := &Server{Region: region, secrets: map[string]*secret{}, calls: map[string]int{}, faults: map[string][]*injected{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// A connection per request: a client that reuses an idle connection the server is
	// closing at that moment gets a transport error, which tests run with retries off
	// would take for the provider's failure.
	s.srv.Config.SetKeepAlivesEnabled(false)
	s.srv.Start()
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Inject makes the next n calls of op (e.g. "UpdateSecretVersionStage") fail with f.
func (s *Server) Inject(op string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = append(s.faults[op], &injected{f: f, n: n})
}

// Calls returns how many requests of op arrived (failed and injected ones included).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// TotalCalls returns how many requests arrived, of every operation.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Exists reports whether a secret of that name exists (scheduled for deletion or not).
func (s *Server) Exists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets[name] != nil
}

// ScheduledForDeletion reports whether the secret waits out its recovery window.
func (s *Server) ScheduledForDeletion(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	return sec != nil && sec.deleted != nil
}

// Stages returns every version of the secret with its staging labels (none for a
// deprecated version).
func (s *Server) Stages(name string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	if sec := s.secrets[name]; sec != nil {
		for id, v := range sec.versions {
			out[id] = slices.Clone(v.stages)
		}
	}
	return out
}

// CurrentVersion returns the VersionId labelled AWSCURRENT, or "".
func (s *Server) CurrentVersion(name string) string {
	for id, st := range s.Stages(name) {
		if slices.Contains(st, Current) {
			return id
		}
	}
	return ""
}

// Tags returns the secret's tags.
func (s *Server) Tags(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if sec := s.secrets[name]; sec != nil {
		for _, t := range sec.tags {
			out[t.Key] = t.Value
		}
	}
	return out
}

// SetTag sets one tag of an existing secret, as someone tagging it at AWS would
// (TagResource); DescribeSecret and ListSecrets show it from then on.
func (s *Server) SetTag(name, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	for i, t := range sec.tags {
		if t.Key == key {
			sec.tags[i].Value = value
			return
		}
	}
	sec.tags = append(sec.tags, Tag{Key: key, Value: value})
}

// KMSKeyID returns the KMS key the secret was created with.
func (s *Server) KMSKeyID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		return sec.kms
	}
	return ""
}

// ARN returns the secret's ARN, or "".
func (s *Server) ARN(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		return sec.arn
	}
	return ""
}

// Seeded is a secret that a test puts in the fake directly (no call is counted), as an
// operator would have created it outside the ledger.
type Seeded struct {
	Name        string
	Value       string
	Description string
	KMSKeyID    string
	Tags        []Tag
	// Deleted schedules the secret for deletion.
	Deleted bool
}

// Seed stores secrets with one AWSCURRENT version each and returns their ARNs, in order.
func (s *Server) Seed(list ...Seeded) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arns := make([]string, 0, len(list))
	for _, in := range list {
		now := time.Now()
		sec := &secret{name: in.Name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.Region, Account, in.Name, suffix()),
			kms: in.KMSKeyID, description: in.Description, tags: in.Tags, versions: map[string]*version{}, created: now}
		v := in.Value
		id := newToken()
		sec.versions[id] = &version{id: id, str: &v, stages: []string{Current}, created: now}
		if in.Deleted {
			sec.deleted = &now
		}
		s.secrets[in.Name] = sec
		arns = append(arns, sec.arn)
	}
	return arns
}

// PutValue adds a version that becomes AWSCURRENT, as the secret's owner rotating it at
// AWS would; it returns the VersionId.
func (s *Server) PutValue(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	id := newToken()
	sec.versions[id] = &version{id: id, str: &value, created: time.Now()}
	sec.attach(Current, id)
	return id
}
