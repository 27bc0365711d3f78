package awssm

import (
	"context"
	"errors"
	"fmt"
	"net"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Provider error codes: the remote providers' (providers.Code*), and this provider's own.
const (
	CodeAccessDenied        = providers.CodeAccessDenied
	CodeThrottled           = providers.CodeThrottled
	CodeNotFound            = providers.CodeNotFound
	CodeConflict            = providers.CodeConflict
	CodeInvalidRequest      = providers.CodeInvalidRequest
	CodeProviderUnavailable = providers.CodeProviderUnavailable
	CodeProviderError       = providers.CodeProviderError
	CodeScopeViolation      = "scope_violation" // 403: the guardrail refused a target
)

// ProviderError is the cause inside every error this package returns for an AWS
// failure: the operation, the provider code and the AWS error code. It holds no AWS
// message, ARN, account or request id (those go to the injected logger only), so it is
// safe wherever the ledger prints causes.
type ProviderError struct {
	Op      string
	Code    string
	AWSCode string
}

func (e *ProviderError) Error() string {
	if e.AWSCode == "" {
		return fmt.Sprintf("awssm: %s: %s", e.Op, e.Code)
	}
	return fmt.Sprintf("awssm: %s: %s (%s)", e.Op, e.Code, e.AWSCode)
}

// ProviderCode implements providers.CodedError.
func (e *ProviderError) ProviderCode() string { return e.Code }

// ProviderCodeOf returns the provider code in err's chain, or "" when err did not come
// from this provider.
func ProviderCodeOf(err error) string {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

type mapping struct {
	code     ledgererr.Code
	provider string
	message  string
}

// The fixed safe messages, one per class of failure.
var (
	mapAccessDenied = mapping{ledgererr.Forbidden, CodeAccessDenied,
		"the ledger's AWS identity is not allowed this Secrets Manager or KMS operation; check its IAM and KMS policies"}
	mapCredentials = mapping{ledgererr.Unavailable, CodeProviderUnavailable,
		"the AWS credential chain found no usable credentials"}
	mapThrottled = mapping{ledgererr.TooManyRequests, CodeThrottled,
		"AWS Secrets Manager is throttling requests; retry later"}
	mapNotFound = mapping{ledgererr.NotFound, CodeNotFound,
		"the secret or version does not exist in AWS Secrets Manager"}
	mapConflict = mapping{ledgererr.Conflict, CodeConflict,
		"an AWS secret with this name or version already exists with other content"}
	mapInvalid = mapping{ledgererr.Invalid, CodeInvalidRequest,
		"AWS Secrets Manager refused the request (the secret may be scheduled for deletion, or a parameter is out of range)"}
	mapStaleCursor = mapping{ledgererr.Invalid, CodeInvalidRequest,
		"the listing cursor (nextToken) is invalid or stale; refresh the preview and discard the old nextToken"}
	mapLimit = mapping{ledgererr.Invalid, CodeInvalidRequest,
		"the request would exceed an AWS Secrets Manager quota"}
	mapKMS = mapping{ledgererr.BadGateway, CodeProviderError,
		"AWS Secrets Manager could not encrypt or decrypt the value with its KMS key; check the key and its policy"}
	mapUnavailable = mapping{ledgererr.Unavailable, CodeProviderUnavailable,
		"AWS Secrets Manager is unavailable or did not answer in time; retry later"}
	mapProviderError = mapping{ledgererr.BadGateway, CodeProviderError,
		"AWS Secrets Manager returned an unexpected error"}
)

// byAWSCode maps AWS error codes (smithy APIError codes) to their class.
var byAWSCode = map[string]mapping{
	"AccessDeniedException":       mapAccessDenied,
	"AccessDenied":                mapAccessDenied,
	"UnrecognizedClientException": mapAccessDenied,
	"InvalidSignatureException":   mapAccessDenied,
	"ExpiredTokenException":       mapAccessDenied,
	"IncompleteSignature":         mapAccessDenied,
	"ThrottlingException":         mapThrottled,
	"Throttling":                  mapThrottled,
	"TooManyRequestsException":    mapThrottled,
	"RequestLimitExceeded":        mapThrottled,
	"ResourceNotFoundException":   mapNotFound,
	"ResourceExistsException":     mapConflict,
	"InvalidRequestException":     mapInvalid,
	"InvalidParameterException":   mapInvalid,
	"ValidationException":         mapInvalid,
	"InvalidNextTokenException":   mapStaleCursor,
	"PreconditionNotMetException": mapInvalid,
	"LimitExceededException":      mapLimit,
	"LimitExceeded":               mapLimit,
	"DecryptionFailure":           mapKMS,
	"EncryptionFailure":           mapKMS,
	"InternalServiceError":        mapUnavailable,
	"InternalFailure":             mapUnavailable,
	"ServiceUnavailable":          mapUnavailable,
}

// classify finds the class of an AWS SDK error and the AWS error code it carried.
func classify(err error) (mapping, string) {
	var se *v4.SigningError
	if errors.As(err, &se) {
		return mapCredentials, "SigningError"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m, ok := byAWSCode[ae.ErrorCode()]; ok {
			return m, ae.ErrorCode()
		}
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			return mapUnavailable, ae.ErrorCode()
		}
		return mapProviderError, ae.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return mapUnavailable, fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return mapUnavailable, "timeout"
	case errors.As(err, &ne):
		return mapUnavailable, "transport"
	}
	return mapUnavailable, "transport"
}

// mapError turns an SDK error of op into a ledgererr error with a fixed safe message and
// a *ProviderError cause, and logs the raw error (which may name ARNs, the account or a
// request id) at warn. It never sees a secret value: the SDK's errors do not echo
// request bodies.
func (p *Provider) mapError(op string, err error) error {
	m, awsCode := classify(err)
	p.log.Warn("aws secrets manager call failed", "op", op, "provider_code", m.provider, "aws_code", awsCode, "err", err)
	return ledgererr.Wrap(&ProviderError{Op: op, Code: m.provider, AWSCode: awsCode}, m.code, "aws_secrets_manager %s: %s", m.provider, m.message)
}

// mapCode maps an error code reported per secret (BatchGetSecretValue's Errors).
func (p *Provider) mapCode(op, awsCode string) error {
	m, ok := byAWSCode[awsCode]
	if !ok {
		m = mapProviderError
	}
	p.log.Warn("aws secrets manager batch entry failed", "op", op, "provider_code", m.provider, "aws_code", awsCode)
	return ledgererr.Wrap(&ProviderError{Op: op, Code: m.provider, AWSCode: awsCode}, m.code, "aws_secrets_manager %s: %s", m.provider, m.message)
}

// listHints are the remote-import runbook's advice for a failed ListSecrets, by provider
// code: the generic messages speak of values and writes, which an inventory call has none of.
var listHints = map[string]string{
	CodeAccessDenied: "the ledger's AWS identity may not call secretsmanager:ListSecrets; grant it (Resource \"*\") only where " +
		"inventory import is approved for this vault's AWS account and Region",
	CodeThrottled:           "AWS Secrets Manager is throttling the inventory; narrow the search (query), wait briefly and retry with backoff",
	CodeProviderUnavailable: "AWS Secrets Manager did not answer the inventory request; retry one page later, not a full crawl",
}

// mapListError maps a failed ListSecrets like mapError, with the runbook's hint for the
// failures an operator can act on.
func (p *Provider) mapListError(err error) error {
	mapped := p.mapError("ListSecrets", err)
	code := ProviderCodeOf(mapped)
	hint, ok := listHints[code]
	if !ok {
		return mapped
	}
	var pe *ProviderError
	errors.As(mapped, &pe)
	return ledgererr.Wrap(pe, ledgererr.CodeOf(mapped), "aws_secrets_manager %s: %s", code, hint)
}
