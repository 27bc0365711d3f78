package ledgererr

import (
	"errors"
	"fmt"
)

// Code classifies an error. The HTTP layer maps each code to one status.
type Code string

// The codes, and the HTTP status each maps to.
const (
	BadRequest   Code = "EBADREQUEST"   // 400: malformed request (JSON, unknown fields, ids).
	Unauthorized Code = "EUNAUTHORIZED" // 401: no valid credentials.
	TooLarge     Code = "ETOOLARGE"     // 413: request body too large.
	Invalid      Code = "EINVALID"      // 422: well-formed, but breaks a rule.
	NotFound     Code = "ENOTFOUND"     // 404
	Conflict     Code = "ECONFLICT"     // 409: stale version, duplicate, idempotency mismatch.
	Forbidden    Code = "EFORBIDDEN"    // 403
	Unavailable  Code = "EUNAVAILABLE"  // 503: a dependency is down; retrying may succeed.
	Internal     Code = "EINTERNAL"     // 500: a bug or an unexpected failure.
	// TooManyRequests (429): a dependency is throttling; retry later, with backoff.
	TooManyRequests Code = "ETHROTTLED"
	// BadGateway (502): a dependency answered with an error the ledger cannot act on.
	BadGateway Code = "EBADGATEWAY"
)

// Error is an error with a code and a message that is safe to return to a client.
// Cause holds the underlying error for logs only; it may name hosts or SQL, never a
// secret value.
type Error struct {
	Code    Code
	Message string
	// Reason, when set, is a finer machine-readable code within Code (for example
	// external_prefix_not_approved within EINVALID) that clients may act on.
	Reason string
	Cause  error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// New returns an *Error with the given code and safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and safe message around cause.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// WithReason returns an *Error with the given code, finer reason and safe message.
func WithReason(code Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of the first *Error in err's chain that has one, "" when
// none has.
func ReasonOf(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Reason != "" {
			return e.Reason
		}
		err = e.Cause
	}
	return ""
}

// CodeOf returns the code of the first *Error in err's chain, Internal for any other
// non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the safe message of the first *Error in err's chain, and a generic
// message for any other error, so that internal details never reach a client.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
