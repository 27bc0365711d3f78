package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Provider error codes: the remote providers' (providers.Code*).
const (
	CodeAccessDenied        = providers.CodeAccessDenied
	CodeThrottled           = providers.CodeThrottled
	CodeNotFound            = providers.CodeNotFound
	CodeConflict            = providers.CodeConflict
	CodeInvalidRequest      = providers.CodeInvalidRequest
	CodeProviderUnavailable = providers.CodeProviderUnavailable
	CodeProviderError       = providers.CodeProviderError
)

// ProviderError is the cause inside every error this package returns for a Vault
// failure: the operation, the provider code and the HTTP status Vault answered (0 when
// none arrived). It holds no Vault message, URL, path or token (those go to the
// injected logger only), so it is safe wherever the ledger prints causes.
type ProviderError struct {
	Op     string
	Code   string
	Status int
}

func (e *ProviderError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("vaultkv: %s: %s", e.Op, e.Code)
	}
	return fmt.Sprintf("vaultkv: %s: %s (HTTP %d)", e.Op, e.Code, e.Status)
}

// ProviderCode implements providers.CodedError.
func (e *ProviderError) ProviderCode() string { return e.Code }

type mapping struct {
	code     ledgererr.Code
	provider string
	message  string
}

// The fixed safe messages, one per class of failure.
var (
	mapAccessDenied = mapping{ledgererr.Forbidden, CodeAccessDenied,
		"the ledger's Vault token is not allowed this KV operation; check its policy"}
	mapThrottled = mapping{ledgererr.TooManyRequests, CodeThrottled,
		"Vault is rate-limiting requests; retry later"}
	mapNotFound = mapping{ledgererr.NotFound, CodeNotFound,
		"the secret or version does not exist at Vault"}
	mapConflict = mapping{ledgererr.Conflict, CodeConflict,
		"the secret changed at Vault since the ledger's version; nothing was overwritten"}
	mapInvalid = mapping{ledgererr.Invalid, CodeInvalidRequest,
		"Vault refused the request as invalid (is the mount a KV version 2 engine?)"}
	mapUnavailable = mapping{ledgererr.Unavailable, CodeProviderUnavailable,
		"Vault is sealed, unavailable or did not answer in time; retry later"}
	mapProviderError = mapping{ledgererr.BadGateway, CodeProviderError,
		"Vault returned an unexpected error"}
)

// casMismatch is the text of Vault's refusal of a write whose check-and-set version is
// not the current one.
const casMismatch = "check-and-set parameter did not match"

// isCASMismatch reports whether err is Vault's check-and-set refusal.
func isCASMismatch(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, casMismatch) {
			return true
		}
	}
	return false
}

// classify finds the class of an error of the Vault client and the HTTP status it
// carried.
func classify(err error) (mapping, int) {
	var re *api.ResponseError
	if errors.As(err, &re) {
		s := re.StatusCode
		switch {
		case isCASMismatch(err):
			return mapConflict, s
		case s == 401 || s == 403:
			return mapAccessDenied, s
		case s == 404:
			return mapNotFound, s
		case s == 409:
			return mapConflict, s
		case s == 429:
			return mapThrottled, s
		case s == 400 || s == 405 || s == 422:
			return mapInvalid, s
		case s == 412 || s >= 500: // 412: a standby not yet consistent; 5xx: sealed, standby, down
			return mapUnavailable, s
		}
		return mapProviderError, s
	}
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &ne), errors.As(err, &ue):
		return mapUnavailable, 0
	}
	return mapProviderError, 0
}

// mapError turns an error of op into a ledgererr error with a fixed safe message and a
// *ProviderError cause, and logs the raw error at warn: the client's text names the
// request URL (the address and the secret's path) and Vault's messages, which go to the
// log only. A ledgererr error (the session's) is returned as it is.
func (p *Provider) mapError(op string, err error) error {
	var le *ledgererr.Error
	if errors.As(err, &le) {
		return err
	}
	m, status := classify(err)
	p.log.Warn("vault call failed", "op", op, "provider_code", m.provider, "status", status, "err", err)
	return wrapMapping(op, m, status, m.message)
}

// providerErr is a failure the provider found in an answer Vault gave without error
// (a deleted version, a value that is not a string), with its own safe message.
func providerErr(op string, m mapping, status int, message string) error {
	return wrapMapping(op, m, status, message)
}

func wrapMapping(op string, m mapping, status int, message string) error {
	return ledgererr.Wrap(&ProviderError{Op: op, Code: m.provider, Status: status}, m.code, "vault %s: %s", m.provider, message)
}

// notFound is a not_found failure of op with message.
func notFound(op, message string) error { return providerErr(op, mapNotFound, 404, message) }

// isNotFound reports whether err is a not_found failure.
func isNotFound(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && pe.Code == CodeNotFound
}
