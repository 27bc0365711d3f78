package awsfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
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

// apiError is an AWS error answer.
type apiError struct {
	status int
	code   string
	msg    string
}

func errf(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

func notFound() *apiError {
	return errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func markedDeleted() *apiError {
	return errf("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	s.mu.Lock()
	s.calls[op]++
	var fault *Fault
	if q := s.faults[op]; len(q) > 0 {
		f := q[0].f
		fault = &f
		if q[0].n--; q[0].n <= 0 {
			s.faults[op] = q[1:]
		}
	}
	s.mu.Unlock()
	switch {
	case r.Method != http.MethodPost || !ok:
		writeError(w, errf("UnknownOperationException", "unknown operation %q", target))
		return
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		writeError(w, errf("SerializationException", "unexpected content type"))
		return
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="):
		writeError(w, errf("MissingAuthenticationTokenException", "the request is not signed with SigV4"))
		return
	}
	if fault != nil {
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if fault.Code != "" {
			writeError(w, &apiError{status: fault.Status, code: fault.Code, msg: fault.Message})
			return
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	s.mu.Lock()
	out, aerr := s.dispatch(op, body)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "fake-request-id")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "fake-request-id")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.msg})
}

func decode[T any](body []byte) (T, *apiError) {
	var in T
	if err := json.Unmarshal(body, &in); err != nil {
		return in, errf("SerializationException", "cannot decode the request")
	}
	return in, nil
}

func (s *Server) dispatch(op string, body []byte) (any, *apiError) {
	switch op {
	case "CreateSecret":
		return call(body, s.createSecret)
	case "PutSecretValue":
		return call(body, s.putSecretValue)
	case "GetSecretValue":
		return call(body, s.getSecretValue)
	case "BatchGetSecretValue":
		return call(body, s.batchGetSecretValue)
	case "DescribeSecret":
		return call(body, s.describeSecret)
	case "UpdateSecretVersionStage":
		return call(body, s.updateSecretVersionStage)
	case "DeleteSecret":
		return call(body, s.deleteSecret)
	case "RestoreSecret":
		return call(body, s.restoreSecret)
	case "ListSecrets":
		return call(body, s.listSecrets)
	}
	return nil, errf("UnknownOperationException", "the fake does not implement %s", op)
}

func call[T any](body []byte, h func(T) (any, *apiError)) (any, *apiError) {
	in, err := decode[T](body)
	if err != nil {
		return nil, err
	}
	return h(in)
}

// epoch is a timestamp as the JSON 1.1 protocol carries it: seconds since the epoch.
func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// lookup finds a secret by name or full ARN.
func (s *Server) lookup(id string) *secret {
	if strings.HasPrefix(id, "arn:") {
		for _, sec := range s.secrets {
			if sec.arn == id {
				return sec
			}
		}
		return nil
	}
	return s.secrets[id]
}

func checkToken(token string) *apiError {
	if token != "" && (len(token) < 32 || len(token) > 64) {
		return errf("InvalidParameterException", "ClientRequestToken must be 32-64 characters long.")
	}
	return nil
}

// attach moves label to version id as AWS does: off any other version first, and when
// AWSCURRENT moves, AWSPREVIOUS goes to the version it left.
func (sec *secret) attach(label, id string) {
	previous := ""
	for vid, v := range sec.versions {
		if vid != id && slices.Contains(v.stages, label) {
			v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == label })
			if label == Current {
				previous = vid
			}
		}
	}
	v := sec.versions[id]
	if !slices.Contains(v.stages, label) {
		v.stages = append(v.stages, label)
	}
	if previous != "" {
		sec.attach(Previous, previous)
	}
}

func (sec *secret) current() *version {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, Current) {
			return v
		}
	}
	return nil
}

type createSecretIn struct {
	Name               string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	Tags               []Tag
	KmsKeyId           string
	Description        string
}

func (s *Server) createSecret(in createSecretIn) (any, *apiError) {
	if in.Name == "" || len(in.Name) > 512 {
		return nil, errf("InvalidParameterException", "Invalid name.")
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, errf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	if in.ClientRequestToken == "" && hasValue {
		in.ClientRequestToken = newToken()
	}
	if sec := s.secrets[in.Name]; sec != nil {
		if sec.deleted != nil {
			return nil, errf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		if v := sec.versions[in.ClientRequestToken]; v != nil && hasValue {
			if v.same(in.SecretString, in.SecretBinary) {
				return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id}, nil
			}
		}
		return nil, errf("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	now := time.Now()
	sec := &secret{name: in.Name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.Region, Account, in.Name, suffix()),
		kms: in.KmsKeyId, description: in.Description, tags: in.Tags, versions: map[string]*version{}, created: now}
	s.secrets[in.Name] = sec
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if hasValue {
		sec.versions[in.ClientRequestToken] = &version{id: in.ClientRequestToken, str: in.SecretString, bin: in.SecretBinary,
			stages: []string{Current}, created: now}
		out["VersionId"] = in.ClientRequestToken
	}
	return out, nil
}

type putSecretValueIn struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

func (s *Server) putSecretValue(in putSecretValueIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deleted != nil {
		return nil, markedDeleted()
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if (in.SecretString == nil) == (in.SecretBinary == nil) {
		return nil, errf("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	}
	if in.ClientRequestToken == "" {
		in.ClientRequestToken = newToken()
	}
	if v := sec.versions[in.ClientRequestToken]; v != nil {
		if !v.same(in.SecretString, in.SecretBinary) {
			return nil, errf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages}, nil
	}
	first := len(sec.versions) == 0
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{Current}
	}
	sec.versions[in.ClientRequestToken] = &version{id: in.ClientRequestToken, str: in.SecretString, bin: in.SecretBinary, created: time.Now()}
	for _, label := range stages {
		sec.attach(label, in.ClientRequestToken)
	}
	if first {
		sec.attach(Current, in.ClientRequestToken)
	}
	v := sec.versions[in.ClientRequestToken]
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages}, nil
}

type getSecretValueIn struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

func valueEntry(sec *secret, v *version) map[string]any {
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages, "CreatedDate": epoch(v.created)}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = v.bin
	}
	return out
}

func (s *Server) getSecretValue(in getSecretValueIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deleted != nil {
		return nil, markedDeleted()
	}
	var v *version
	switch {
	case in.VersionId != "":
		v = sec.versions[in.VersionId]
		if v == nil || (in.VersionStage != "" && !slices.Contains(v.stages, in.VersionStage)) {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionId)
		}
	default:
		stage := in.VersionStage
		if stage == "" {
			stage = Current
		}
		for _, c := range sec.versions {
			if slices.Contains(c.stages, stage) {
				v = c
			}
		}
		if v == nil {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	return valueEntry(sec, v), nil
}

type batchGetSecretValueIn struct {
	SecretIdList []string
	Filters      []json.RawMessage
}

func (s *Server) batchGetSecretValue(in batchGetSecretValueIn) (any, *apiError) {
	switch {
	case len(in.Filters) > 0:
		return nil, errf("InvalidParameterException", "the fake does not implement Filters")
	case len(in.SecretIdList) == 0:
		return nil, errf("InvalidParameterException", "Either Filters or SecretIdList must be specified.")
	case len(in.SecretIdList) > 20:
		return nil, errf("InvalidParameterException", "SecretIdList can contain at most 20 secrets.")
	}
	values, errs := []any{}, []any{}
	for _, id := range in.SecretIdList {
		sec := s.lookup(id)
		var e *apiError
		switch {
		case sec == nil:
			e = notFound()
		case sec.deleted != nil:
			e = markedDeleted()
		case sec.current() == nil:
			e = errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
		}
		if e != nil {
			errs = append(errs, map[string]string{"SecretId": id, "ErrorCode": e.code, "Message": e.msg})
			continue
		}
		values = append(values, valueEntry(sec, sec.current()))
	}
	return map[string]any{"SecretValues": values, "Errors": errs}, nil
}

type secretIDIn struct{ SecretId string }

func (s *Server) describeSecret(in secretIDIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	stages := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[id] = v.stages
		}
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "Tags": sec.tags, "VersionIdsToStages": stages, "CreatedDate": epoch(sec.created)}
	if sec.kms != "" {
		out["KmsKeyId"] = sec.kms
	}
	if sec.deleted != nil {
		out["DeletedDate"] = epoch(*sec.deleted)
	}
	return out, nil
}

type updateStageIn struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

func (s *Server) updateSecretVersionStage(in updateStageIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deleted != nil {
		return nil, markedDeleted()
	}
	if in.VersionStage == "" {
		return nil, errf("InvalidParameterException", "VersionStage is required.")
	}
	for _, id := range []string{in.MoveToVersionId, in.RemoveFromVersionId} {
		if id != "" && sec.versions[id] == nil {
			return nil, errf("InvalidParameterException", "The version %s does not exist.", id)
		}
	}
	holder := ""
	for id, v := range sec.versions {
		if slices.Contains(v.stages, in.VersionStage) {
			holder = id
		}
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.MoveToVersionId != "" {
		if holder == in.MoveToVersionId {
			return out, nil
		}
		if holder != "" && in.RemoveFromVersionId != holder {
			return nil, errf("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", in.VersionStage, holder)
		}
		sec.attach(in.VersionStage, in.MoveToVersionId)
		return out, nil
	}
	switch {
	case in.RemoveFromVersionId == "":
		return nil, errf("InvalidParameterException", "Either MoveToVersionId or RemoveFromVersionId is required.")
	case holder != in.RemoveFromVersionId:
		return nil, errf("InvalidParameterException", "The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionId)
	case in.VersionStage == Current:
		return nil, errf("InvalidParameterException", "You can't remove the staging label AWSCURRENT from a version; move it to another version instead.")
	}
	v := sec.versions[in.RemoveFromVersionId]
	v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == in.VersionStage })
	return out, nil
}

type deleteSecretIn struct {
	SecretId                   string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

func (s *Server) deleteSecret(in deleteSecretIn) (any, *apiError) {
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, errf("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	sec := s.lookup(in.SecretId)
	now := time.Now()
	if force {
		// AWS accepts a forced delete of a secret scheduled for deletion, and of one that
		// does not exist (no ResourceNotFoundException).
		out := map[string]any{"Name": in.SecretId, "DeletionDate": epoch(now)}
		if sec != nil {
			delete(s.secrets, sec.name)
			out["ARN"], out["Name"] = sec.arn, sec.name
		}
		return out, nil
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
	}
	switch {
	case days < 7 || days > 30:
		return nil, errf("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	case sec == nil:
		return nil, notFound()
	case sec.deleted != nil:
		return nil, errf("InvalidRequestException", "You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	sec.deleted = &now
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(now.Add(time.Duration(days) * 24 * time.Hour))}, nil
}

func (s *Server) restoreSecret(in secretIDIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	sec.deleted = nil
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
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

type listSecretsIn struct {
	MaxResults             *int
	NextToken              string
	IncludePlannedDeletion bool
	SortOrder              string
	Filters                []struct {
		Key    string
		Values []string
	}
}

// listToken is the fake's NextToken: the last name of the page, base64-encoded (opaque
// to clients, as AWS's are).
const listTokenPrefix = "fake-next:"

// matches is the fake's approximation of AWS's filters: "name" is a prefix of the name,
// "description" a prefix of the description, "tag-key"/"tag-value" a prefix of a tag's
// key/value, and "all" any of those (case-insensitive). A leading "!" negates, as at AWS.
func (sec *secret) matches(key, value string) bool {
	neg := strings.HasPrefix(value, "!")
	value = strings.ToLower(strings.TrimPrefix(value, "!"))
	has := func(s string) bool { return strings.HasPrefix(strings.ToLower(s), value) }
	var hit bool
	switch key {
	case "name":
		hit = has(sec.name)
	case "description":
		hit = has(sec.description)
	case "tag-key", "tag-value", "all":
		if key == "all" {
			hit = has(sec.name) || has(sec.description)
			for _, seg := range strings.FieldsFunc(sec.name, func(r rune) bool { return r == '/' || r == '-' || r == '_' }) {
				hit = hit || has(seg)
			}
		}
		for _, t := range sec.tags {
			hit = hit || (key != "tag-value" && has(t.Key)) || (key != "tag-key" && has(t.Value))
		}
	}
	return hit != neg
}

func (s *Server) listSecrets(in listSecretsIn) (any, *apiError) {
	limit := 100
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	if limit < 1 || limit > 100 {
		return nil, errf("InvalidParameterException", "MaxResults must be 1 to 100.")
	}
	after := ""
	if in.NextToken != "" {
		raw, err := base64.StdEncoding.DecodeString(in.NextToken)
		if err != nil || !strings.HasPrefix(string(raw), listTokenPrefix) {
			return nil, errf("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		after = strings.TrimPrefix(string(raw), listTokenPrefix)
	}
	for _, f := range in.Filters {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value", "all":
		default:
			return nil, errf("ValidationException", "the fake does not implement the filter %s", f.Key)
		}
	}
	names := make([]string, 0, len(s.secrets))
	for name, sec := range s.secrets {
		if sec.deleted != nil && !in.IncludePlannedDeletion {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			any := false
			for _, v := range f.Values {
				any = any || sec.matches(f.Key, v)
			}
			ok = ok && any
		}
		if ok && name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		out["NextToken"] = base64.StdEncoding.EncodeToString([]byte(listTokenPrefix + names[limit-1]))
	}
	list := make([]any, 0, len(names))
	for _, name := range names {
		sec := s.secrets[name]
		stages := map[string][]string{}
		for id, v := range sec.versions {
			if len(v.stages) > 0 {
				stages[id] = v.stages
			}
		}
		e := map[string]any{"ARN": sec.arn, "Name": sec.name, "Tags": sec.tags, "SecretVersionsToStages": stages,
			"CreatedDate": epoch(sec.created), "LastChangedDate": epoch(sec.created)}
		if sec.description != "" {
			e["Description"] = sec.description
		}
		if sec.kms != "" {
			e["KmsKeyId"] = sec.kms
		}
		if sec.deleted != nil {
			e["DeletedDate"] = epoch(*sec.deleted)
		}
		list = append(list, e)
	}
	out["SecretList"] = list
	return out, nil
}
