package vaultkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// sessionCause is the safe cause of a session error (a login, a token check, a
// renewal): the step, the provider code and Vault's status (0 when no answer came). Like
// every ProviderError it holds no Vault message, URL, token, secret id or JWT; the raw
// error goes to the session's logger only.
func sessionCause(op, code string, status int) error {
	return &ProviderError{Op: op, Code: code, Status: status}
}

// vaultClass is what the session needs to know of a failed Vault call.
type vaultClass struct {
	code     ledgererr.Code
	provider string
	// status is Vault's HTTP status, 0 when no answer came.
	status int
	// what is a safe word for the failure, for messages: "refused", "sealed", ...
	what string
}

// classifyVault sorts an error of the client library. It reads the status and the
// kind of transport failure, never Vault's message.
func classifyVault(err error) vaultClass {
	var re *api.ResponseError
	if errors.As(err, &re) {
		c := vaultClass{status: re.StatusCode}
		switch s := re.StatusCode; {
		case s == http.StatusForbidden || s == http.StatusUnauthorized:
			c.code, c.provider, c.what = ledgererr.Forbidden, CodeAccessDenied, "permission denied"
		case s == http.StatusTooManyRequests:
			c.code, c.provider, c.what = ledgererr.TooManyRequests, CodeThrottled, "rate limited"
		case s == http.StatusBadRequest || s == http.StatusNotFound || s == http.StatusUnprocessableEntity:
			c.code, c.provider, c.what = ledgererr.Invalid, CodeInvalidRequest, "request refused"
		case s == http.StatusServiceUnavailable:
			c.code, c.provider, c.what = ledgererr.Unavailable, CodeProviderUnavailable, "sealed or unavailable"
		case s >= 500:
			c.code, c.provider, c.what = ledgererr.Unavailable, CodeProviderUnavailable, "server error"
		default:
			c.code, c.provider, c.what = ledgererr.BadGateway, CodeProviderError, "unexpected answer"
		}
		return c
	}
	c := vaultClass{code: ledgererr.Unavailable, provider: CodeProviderUnavailable, what: "unreachable"}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var ne net.Error
	switch {
	case errors.As(err, &unknownCA):
		c.what = "untrusted certificate"
	case errors.As(err, &hostname):
		c.what = "certificate name mismatch"
	case errors.As(err, &invalid), errors.As(err, &verify):
		c.what = "invalid certificate"
	case errors.Is(err, errForeignOrigin):
		c.code, c.provider, c.what = ledgererr.BadGateway, CodeProviderError, "redirect to another origin"
	case errors.Is(err, errResponseTooLarge):
		c.code, c.provider, c.what = ledgererr.BadGateway, CodeProviderError, "answer too large"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		c.what = "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		c.what = "timeout"
	}
	return c
}

// transportHint is the advice of a failure before any answer from Vault, or "".
func (c vaultClass) transportHint() string {
	switch c.what {
	case "untrusted certificate":
		return "the Vault server's TLS certificate is not signed by a trusted CA: set " + EnvCACert +
			" to the PEM file of the CA that signed it"
	case "certificate name mismatch":
		return "the Vault server's TLS certificate does not name the host of " + EnvAddr
	case "invalid certificate":
		return "the Vault server's TLS certificate is not valid (expired, or not for server use)"
	case "redirect to another origin":
		return "the Vault server redirected the ledger to another address, which is refused: set " + EnvAddr +
			" to the address of the server that answers (the active node, or a load balancer)"
	case "answer too large":
		return "the Vault server's answer was larger than the ledger reads (" + strconv.Itoa(MaxResponseBytes>>20) + " MiB)"
	case "timeout":
		return "the Vault server did not answer in time"
	case "unreachable":
		return "the Vault server cannot be reached; check " + EnvAddr + " and the network"
	}
	return ""
}

// sessionErr logs the raw error of op (which may name the address and Vault's
// message, never a credential: requests' bodies are not echoed) and returns the
// safe error: message is the advice for the failure Vault answered; a failure without
// an answer gets the transport's advice.
func (s *Session) sessionErr(op string, err error, c vaultClass, message string) error {
	s.log.Warn("vault session call failed", "op", op, "provider_code", c.provider, "status", c.status, "err", err)
	if c.status == 0 {
		if hint := c.transportHint(); hint != "" {
			message = hint
		}
	} else if c.status == http.StatusServiceUnavailable {
		message = "the Vault server is sealed or unavailable; retry later"
	} else if c.status >= 500 {
		message = "the Vault server failed to answer; retry later"
	}
	return ledgererr.Wrap(sessionCause(op, c.provider, c.status), c.code, "vault %s: %s", c.provider, message)
}
