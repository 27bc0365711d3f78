package awsfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
