package vaultkv

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Retry waits of the client library: a few quick retries of 5xx and connection errors,
// inside the call's timeout.
const (
	maxRetries   = 2
	minRetryWait = 250 * time.Millisecond
	maxRetryWait = time.Second
)

// MaxResponseBytes bounds the body of one answer of Vault the ledger reads: the client
// library reads bodies whole, so a hostile or broken server could otherwise make the
// ledger hold any amount. Vault's own request limit (max_request_size) is 32 MiB.
const MaxResponseBytes = 32 << 20

// errForeignOrigin refuses a request to any origin but the session's: the client
// library follows one redirect by itself, and the token must never go to another host.
var errForeignOrigin = errors.New("vaultkv: refused a request to an origin other than the configured vault address")

// newHTTPClient builds the session's HTTP client by hand, so that nothing comes from the
// VAULT_* environment the client library reads by itself: TLS 1.2 or later against the
// CA file's roots (the system's otherwise), never skipping verification, no redirect
// followed by net/http, and every request held to the configured origin.
func newHTTPClient(cfg SessionConfig) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACertFile != "" {
		pool, err := loadCAFile(cfg.CACertFile)
		if err != nil {
			return nil, ledgererr.Wrap(err, ledgererr.Invalid, "%s", err.Error())
		}
		tlsConfig.RootCAs = pool
	}
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, ledgererr.New(ledgererr.Internal, "the default HTTP transport is not an *http.Transport")
	}
	tr := base.Clone()
	tr.TLSClientConfig = tlsConfig
	tr.TLSHandshakeTimeout = 10 * time.Second
	u, err := url.Parse(cfg.Address)
	if err != nil {
		return nil, ledgererr.New(ledgererr.Invalid, "%s must be an origin such as https://vault.example:8200", EnvAddr)
	}
	return &http.Client{
		Transport: &originGuard{scheme: u.Scheme, host: u.Host, next: tr},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// originGuard is a RoundTripper that sends only requests to one origin.
type originGuard struct {
	scheme, host string
	next         http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (g *originGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.EqualFold(r.URL.Scheme, g.scheme) || !strings.EqualFold(r.URL.Host, g.host) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errForeignOrigin
	}
	resp, err := g.next.RoundTrip(r)
	if err == nil && resp.Body != nil {
		resp.Body = &boundedBody{rc: resp.Body, left: MaxResponseBytes}
	}
	return resp, err
}

// errResponseTooLarge is the failure of reading an answer longer than MaxResponseBytes.
var errResponseTooLarge = errors.New("vaultkv: Vault's answer is larger than the ledger reads")

// boundedBody reads at most left bytes of a body; a body longer than that fails with
// errResponseTooLarge instead of being read on.
type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

// Read implements io.Reader.
func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n > 0 {
			return 0, errResponseTooLarge
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

// Close implements io.Closer.
func (b *boundedBody) Close() error { return b.rc.Close() }

// retryPolicy is the library's, except that a refused origin is final.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if errors.Is(err, errForeignOrigin) {
		return false, err
	}
	return api.DefaultRetryPolicy(ctx, resp, err)
}

// newAPIClient builds a client of the session's server that carries token ("" for
// none). api.NewClient reads VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS from the
// process environment by itself: the headers, token and namespace are reset to what
// the session's settings say. The client is not changed afterwards, so goroutines share
// it; a new token gets a new client. A 403 answered to it marks its token suspect.
func (s *Session) newAPIClient(token string) (*api.Client, error) {
	c, err := api.NewClient(&api.Config{
		Address:      s.origin,
		HttpClient:   s.httpc,
		Timeout:      s.cfg.Timeout,
		MaxRetries:   maxRetries,
		MinRetryWait: minRetryWait,
		MaxRetryWait: maxRetryWait,
		CheckRetry:   retryPolicy,
	})
	if err != nil {
		// The library parses some VAULT_* variables even when their values are unused.
		s.log.Warn("vault client could not be built", "err", err)
		return nil, ledgererr.New(ledgererr.Invalid,
			"the vault client could not be built; check the VAULT_* variables of the environment, which the client library parses")
	}
	// X-Vault-Request is the library's own marker (Vault Agent requires it); every
	// other header, VAULT_HEADERS' included, goes.
	c.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	c.ClearToken()
	c.ClearNamespace()
	if s.cfg.Namespace != "" {
		c.SetNamespace(s.cfg.Namespace)
	}
	if token == "" {
		return c, nil
	}
	c.SetToken(token)
	// Any call Vault refuses with this token (a provider's, the health check's) tells
	// the session, which checks the token before the next call and logs in again when
	// it was revoked.
	return c.WithResponseCallbacks(func(r *api.Response) {
		if r != nil && r.StatusCode == http.StatusForbidden {
			s.invalidate(token)
		}
	}), nil
}
