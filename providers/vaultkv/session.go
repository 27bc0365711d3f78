package vaultkv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Auth methods of a session.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Defaults of a session's settings.
const (
	DefaultAppRoleMount = "approle"
	DefaultK8sMount     = "kubernetes"
	// DefaultSATokenPath is where Kubernetes mounts a pod's service-account token.
	DefaultSATokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	// DefaultLoginTimeout bounds one login (or the check of a token), retries included.
	DefaultLoginTimeout = 30 * time.Second
)

// Names of the deployment's settings, for messages: a message names the setting that is
// wrong, never its value.
const (
	EnvAddr           = "PAPERCLIP_SECRETS_VAULT_ADDR"
	EnvAuthMethod     = "PAPERCLIP_SECRETS_VAULT_AUTH_METHOD"
	EnvK8sRole        = "PAPERCLIP_SECRETS_VAULT_K8S_ROLE"
	EnvSATokenPath    = "PAPERCLIP_SECRETS_VAULT_SA_TOKEN_PATH"
	EnvNamespace      = "PAPERCLIP_SECRETS_VAULT_NAMESPACE"
	EnvCACert         = "PAPERCLIP_SECRETS_VAULT_CACERT"
	EnvRoleIDFile     = "PAPERCLIP_SECRETS_VAULT_APPROLE_ROLE_ID_FILE"
	EnvSecretIDFile   = "PAPERCLIP_SECRETS_VAULT_APPROLE_SECRET_ID_FILE"
	EnvVaultToken     = "VAULT_TOKEN"
	EnvVaultTokenFile = "VAULT_TOKEN_FILE"
)

// Auth is how a session gets its token. Secrets are read from files when a file is
// named, so that nothing secret needs the environment or a command line.
type Auth struct {
	Method string
	// Token is the token of the token method (VAULT_TOKEN); TokenFile is read instead
	// when set (VAULT_TOKEN_FILE), again whenever the token stops working.
	Token     string
	TokenFile string
	// RoleIDFile and SecretIDFile are AppRole's credentials, read at each login;
	// AppRoleMount defaults to "approle".
	RoleIDFile, SecretIDFile, AppRoleMount string
	// K8sRole and SATokenPath are Kubernetes auth's role and service-account token file
	// (read at each login, as Kubernetes rotates it); SATokenPath defaults to
	// DefaultSATokenPath and K8sMount to "kubernetes".
	K8sRole, SATokenPath, K8sMount string
}

// String keeps the token out of any print of the configuration.
func (a Auth) String() string {
	return fmt.Sprintf("vaultkv.Auth{Method:%s}", a.Method)
}

// GoString implements fmt.GoStringer like String.
func (a Auth) GoString() string { return a.String() }

// LogValue implements slog.LogValuer like String.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// SessionConfig is the deployment's connection to its Vault server.
type SessionConfig struct {
	// Address is the server's origin (https://vault.example:8200): http is allowed only
	// for a loopback host.
	Address string
	// Namespace is the namespace the auth method is mounted in (and the default of
	// the KV calls).
	Namespace string
	// CACertFile is a PEM file of the CAs that sign the server's certificate; empty
	// uses the system's roots. Verification is never skipped.
	CACertFile string
	Auth       Auth
	// Timeout bounds one request to Vault, its retries included; 0 means
	// DefaultCallTimeout.
	Timeout time.Duration
	// Log receives the raw errors of logins and renewals (at warn) and the session's
	// events (at info); nil discards them. No token, secret id or JWT is ever logged.
	Log *slog.Logger
}

func (c SessionConfig) withDefaults() SessionConfig {
	c.Address = strings.TrimSuffix(strings.TrimSpace(c.Address), "/")
	c.Auth.Method = strings.ToLower(strings.TrimSpace(c.Auth.Method))
	if c.Auth.AppRoleMount == "" {
		c.Auth.AppRoleMount = DefaultAppRoleMount
	}
	if c.Auth.K8sMount == "" {
		c.Auth.K8sMount = DefaultK8sMount
	}
	if c.Auth.SATokenPath == "" {
		c.Auth.SATokenPath = DefaultSATokenPath
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultCallTimeout
	}
	return c
}

// Validate reports every problem of the configuration at once (after defaults). Its
// messages name the settings, never their values. The credential files are opened (not
// read) to tell a missing file at start rather than at the first call.
func (c SessionConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if problem := checkOrigin(c.Address); problem != "" {
		bad("%s %s", EnvAddr, problem)
	}
	if problem := CheckPath(c.Namespace, MaxNamespaceLength); c.Namespace != "" && problem != "" {
		bad("%s %s", EnvNamespace, problem)
	}
	if c.CACertFile != "" {
		if _, err := loadCAFile(c.CACertFile); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout < 0 {
		bad("the vault request timeout must not be negative")
	}
	a := c.Auth
	file := func(setting, path string) {
		if problem := checkReadable(path); problem != "" {
			bad("%s %s", setting, problem)
		}
	}
	switch a.Method {
	case AuthToken:
		switch {
		case a.Token != "" && a.TokenFile != "":
			bad("set %s or %s, not both", EnvVaultToken, EnvVaultTokenFile)
		case a.Token == "" && a.TokenFile == "":
			bad("the token auth method needs %s or %s", EnvVaultToken, EnvVaultTokenFile)
		case a.TokenFile != "":
			file(EnvVaultTokenFile, a.TokenFile)
		}
	case AuthAppRole:
		if a.RoleIDFile == "" {
			bad("the approle auth method needs %s", EnvRoleIDFile)
		} else {
			file(EnvRoleIDFile, a.RoleIDFile)
		}
		if a.SecretIDFile == "" {
			bad("the approle auth method needs %s", EnvSecretIDFile)
		} else {
			file(EnvSecretIDFile, a.SecretIDFile)
		}
		if problem := CheckPath(a.AppRoleMount, MaxMountLength); problem != "" {
			bad("the approle auth mount %s", problem)
		}
	case AuthKubernetes:
		if a.K8sRole == "" {
			bad("the kubernetes auth method needs %s", EnvK8sRole)
		}
		file(EnvSATokenPath, a.SATokenPath)
		if problem := CheckPath(a.K8sMount, MaxMountLength); problem != "" {
			bad("the kubernetes auth mount %s", problem)
		}
	case "":
		bad("%s is required (token, approle or kubernetes)", EnvAuthMethod)
	default:
		bad("%s must be token, approle or kubernetes", EnvAuthMethod)
	}
	return errors.Join(errs...)
}

// checkOrigin returns why s is not an http(s) origin the session may send a token to,
// or "" when it is one. Plain http would send the token in clear, so it is allowed
// only to a loopback host (a dev server, or an agent on the same machine).
func checkOrigin(s string) string {
	if s == "" {
		return "is required"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "must be an origin such as https://vault.example:8200"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with https:// (or http:// for a loopback host)"
	case u.User != nil:
		return "must not hold a user name or password"
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must be an origin only (scheme, host and port), with no path, query or fragment"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https (http is allowed only for a loopback host such as 127.0.0.1 or localhost)"
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkReadable returns why the file at path cannot be opened for reading, or "". The
// file is opened and closed, never read: its content is a credential.
func checkReadable(path string) string {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "names a file that does not exist"
		}
		return "names a file the ledger cannot open"
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return "must name a file, not a directory"
	}
	return ""
}

// loadCAFile reads the PEM file of CAs; its errors name the setting, not the path.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s names a file the ledger cannot read", EnvCACert)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", EnvCACert)
	}
	return pool, nil
}

// Session is the deployment's authenticated connection to one Vault server, shared by
// every Provider: it logs in on first use, renews its token, and logs in again before
// the token expires or after Vault refuses it.
type Session struct {
	cfg    SessionConfig
	log    *slog.Logger
	origin string
	httpc  *http.Client
	// anon is the client without a token (sys/health, logins); it is never mutated.
	anon *api.Client

	// cur is the current token and an immutable client that carries it: callers share
	// it without locks, and a new token gets a new client.
	cur atomic.Pointer[tokenState]

	mu     sync.Mutex
	flight *flight // the login in progress, nil when none
	// failed is the last login's failure and when it ended: for loginBackoff the
	// callers get it without another login (a wrong credential must not become one
	// login attempt per resolution).
	failed   error
	failedAt time.Time
	renewer  bool // the renewal goroutine runs
	closed   bool

	wake   chan struct{} // tells the renewer that cur changed
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewSession validates cfg and returns its session. It makes no Vault call: the first
// provider call logs in.
func NewSession(cfg SessionConfig) (*Session, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, log: orDiscard(cfg.Log), origin: cfg.Address, wake: make(chan struct{}, 1)}
	httpc, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	s.httpc = httpc
	if s.anon, err = s.newAPIClient(""); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Address is the origin of the session's server: a provider vault whose address is not
// this one must not be served by this session (it would receive the deployment's token).
func (s *Session) Address() string { return s.origin }

// Namespace is the session's namespace (where its auth method is mounted).
func (s *Session) Namespace() string { return s.cfg.Namespace }

// AuthMethod is the session's auth method.
func (s *Session) AuthMethod() string { return s.cfg.Auth.Method }

// Close stops the session's renewal and any login in progress, and forgets the token;
// it is idempotent. Calls after Close fail.
func (s *Session) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.cur.Store(nil)
}

var errClosed = ledgererr.New(ledgererr.Unavailable, "the vault session is closed")
