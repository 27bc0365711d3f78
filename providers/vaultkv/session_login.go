package vaultkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// tokenState is one token of the session and the client that carries it. Only suspect
// changes after it is stored; a renewal stores a new state.
type tokenState struct {
	c        *api.Client
	obtained time.Time
	// lease is the token's TTL at obtained; 0 for a token that never expires.
	lease time.Duration
	// increment is what a renewal asks for: the TTL the token was issued with.
	increment time.Duration
	renewable bool
	// capped says the last renewal granted less than it asked: the token's max TTL is
	// near, so the next maintenance logs in again instead of renewing.
	capped bool
	// stamp is the token file's when the token came from it: a change of the file
	// makes the next call read it again.
	stamp fileStamp
	// suspect says Vault refused a call with this token: the next client(ctx) checks it
	// (lookup-self) and logs in again when it is dead.
	suspect atomic.Bool
}

func (t *tokenState) expires() time.Time {
	if t.lease <= 0 {
		return time.Time{}
	}
	return t.obtained.Add(t.lease)
}

// usable says the token may be handed out at now: not suspect, and not expiring within
// a margin (a tenth of its lease, at most a second) that leaves room for the call.
func (t *tokenState) usable(now time.Time) bool {
	if t == nil || t.suspect.Load() {
		return false
	}
	if t.lease <= 0 {
		return true
	}
	margin := min(t.lease/10, time.Second)
	return now.Before(t.expires().Add(-margin))
}

// flight is one login in progress; every caller that needs a token waits for it.
type flight struct {
	done chan struct{}
	st   *tokenState
	err  error
}

// client returns a client with a current token, logging in first when there is none
// (one login at a time: concurrent callers wait for the same one). The client is
// shared: callers must not change it (WithNamespace makes a copy).
func (s *Session) client(ctx context.Context) (*api.Client, error) {
	if s == nil {
		return nil, ledgererr.New(ledgererr.Unavailable, "the vault provider has no session")
	}
	st := s.cur.Load()
	if st.usable(time.Now()) && !s.tokenFileChanged(st) {
		return st.c, nil
	}
	f, err := s.start(st)
	if err != nil {
		return nil, err
	}
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.st.c, nil
	case <-ctx.Done():
		return nil, ledgererr.Wrap(sessionCause("login", CodeProviderUnavailable, 0), ledgererr.Unavailable,
			"vault %s: the login to Vault did not finish in time", CodeProviderUnavailable)
	}
}

// invalidate tells the session that Vault refused a call made with token (403): the
// token may have been revoked. The next client(ctx) checks it once and logs in again
// when it is dead; a token the session no longer holds is ignored.
func (s *Session) invalidate(token string) {
	if s == nil || token == "" {
		return
	}
	if st := s.cur.Load(); st != nil && st.c.Token() == token {
		st.suspect.Store(true)
	}
}

// loginBackoff is how long a failed login answers every caller without another login.
const loginBackoff = time.Second

// start returns the login in progress, or starts one replacing seen (the state the
// caller found unusable, or the renewer wants replaced). The login runs on the
// session's context, not the caller's, so that one caller giving up does not fail the
// others.
func (s *Session) start(seen *tokenState) (*flight, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.flight != nil {
		return s.flight, nil
	}
	if st := s.cur.Load(); st != seen && st.usable(time.Now()) && !s.tokenFileChanged(st) {
		f := &flight{done: make(chan struct{}), st: st}
		close(f.done)
		return f, nil
	}
	if s.failed != nil && time.Since(s.failedAt) < loginBackoff {
		f := &flight{done: make(chan struct{}), err: s.failed}
		close(f.done)
		return f, nil
	}
	f := &flight{done: make(chan struct{})}
	s.flight = f
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		st, err := s.refresh(seen)
		s.mu.Lock()
		s.failed, s.failedAt = err, time.Now()
		if err == nil && !s.closed {
			s.cur.Store(st)
			s.startRenewer()
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
		s.flight = nil
		s.mu.Unlock()
		f.st, f.err = st, err
		if err == nil && s.ctx.Err() != nil {
			f.st, f.err = nil, errClosed
		}
		close(f.done)
	}()
	return f, nil
}

// refresh checks a suspect token and keeps it when Vault still knows it; otherwise it
// logs in.
func (s *Session) refresh(seen *tokenState) (*tokenState, error) {
	ctx, cancel := context.WithTimeout(s.ctx, DefaultLoginTimeout)
	defer cancel()
	if seen != nil && seen.suspect.Load() && s.cfg.Auth.Method != AuthToken {
		st, err := s.lookup(ctx, seen.c)
		if err == nil {
			s.log.Info("vault token still valid after a refusal: the refusal was a policy's")
			return st, nil
		}
		s.log.Info("vault token no longer valid; logging in again", "auth_method", s.cfg.Auth.Method)
	}
	return s.login(ctx)
}

// login gets a new token with the session's auth method.
func (s *Session) login(ctx context.Context) (*tokenState, error) {
	switch s.cfg.Auth.Method {
	case AuthToken:
		return s.loginToken(ctx)
	case AuthAppRole:
		return s.loginAppRole(ctx)
	default:
		return s.loginKubernetes(ctx)
	}
}

// loginToken reads the token (the file at each login, so that a rotated file is
// picked up) and looks it up to learn its TTL.
func (s *Session) loginToken(ctx context.Context) (*tokenState, error) {
	a := s.cfg.Auth
	token, setting := a.Token, EnvVaultToken
	var stamp fileStamp
	if a.TokenFile != "" {
		setting = EnvVaultTokenFile
		stamp = stampOf(a.TokenFile)
		var err error
		if token, err = readCredential(a.TokenFile); err != nil {
			return nil, s.fileErr("token login", setting, err)
		}
	}
	c, err := s.newAPIClient(token)
	if err != nil {
		return nil, err
	}
	st, err := s.lookup(ctx, c)
	if err != nil {
		if ledgererr.CodeOf(err) == ledgererr.Forbidden {
			return nil, ledgererr.Wrap(sessionCause("token login", CodeAccessDenied, http.StatusForbidden), ledgererr.Forbidden,
				"vault %s: Vault refused the token of %s (revoked, expired, or without the default policy's auth/token/lookup-self)",
				CodeAccessDenied, setting)
		}
		return nil, err
	}
	st.stamp = stamp
	s.log.Info("vault token in use", "auth_method", AuthToken, "ttl", st.lease, "renewable", st.renewable)
	return st, nil
}

// lookup asks Vault about c's token (auth/token/lookup-self): a state of it with its
// remaining TTL. A token with no TTL (a root token) never expires.
func (s *Session) lookup(ctx context.Context, c *api.Client) (*tokenState, error) {
	now := time.Now()
	sec, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err == nil && (sec == nil || sec.Data == nil) {
		err = errors.New("lookup-self answered no data")
	}
	if err != nil {
		return nil, s.sessionErr("lookup-self", err, classifyVault(err),
			"Vault refused auth/token/lookup-self for the session's token")
	}
	ttl, err1 := sec.TokenTTL()
	renewable, err2 := sec.TokenIsRenewable()
	if err := errors.Join(err1, err2); err != nil {
		return nil, s.sessionErr("lookup-self", err, vaultClass{code: ledgererr.BadGateway, provider: CodeProviderError},
			"Vault answered auth/token/lookup-self with an unexpected TTL")
	}
	increment := ttl
	if n, ok := sec.Data["creation_ttl"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v > 0 {
			increment = time.Duration(v) * time.Second
		}
	}
	return &tokenState{c: c, obtained: now, lease: ttl, increment: increment, renewable: renewable}, nil
}

// loginAppRole logs in at auth/<mount>/login with the role id and secret id read from
// their files now; neither outlives the call in the session's memory.
func (s *Session) loginAppRole(ctx context.Context) (*tokenState, error) {
	a := s.cfg.Auth
	roleID, err := readCredential(a.RoleIDFile)
	if err != nil {
		return nil, s.fileErr("approle login", EnvRoleIDFile, err)
	}
	secretID, err := readCredential(a.SecretIDFile)
	if err != nil {
		return nil, s.fileErr("approle login", EnvSecretIDFile, err)
	}
	body := map[string]any{"role_id": roleID, "secret_id": secretID}
	return s.loginAt(ctx, "approle login", "auth/"+a.AppRoleMount+"/login", body,
		"Vault refused the approle login; check the role id and secret id files ("+EnvRoleIDFile+", "+
			EnvSecretIDFile+": a secret id may have expired or reached its use limit) and the auth mount")
}

// loginKubernetes logs in at auth/<mount>/login with the service-account token read
// from its file now (Kubernetes rotates it).
func (s *Session) loginKubernetes(ctx context.Context) (*tokenState, error) {
	a := s.cfg.Auth
	jwt, err := readCredential(a.SATokenPath)
	if err != nil {
		return nil, s.fileErr("kubernetes login", EnvSATokenPath, err)
	}
	body := map[string]any{"role": a.K8sRole, "jwt": jwt}
	return s.loginAt(ctx, "kubernetes login", "auth/"+a.K8sMount+"/login", body,
		"Vault refused the kubernetes login; check "+EnvK8sRole+" and that the role binds this service account and namespace")
}

// loginAt writes body to an auth method's login path and keeps the token it answers.
func (s *Session) loginAt(ctx context.Context, op, path string, body map[string]any, refused string) (*tokenState, error) {
	now := time.Now()
	sec, err := s.anon.Logical().WriteWithContext(ctx, path, body)
	clear(body)
	if err == nil && (sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "") {
		err = errors.New("the login answered no token")
		return nil, s.sessionErr(op, err, vaultClass{code: ledgererr.BadGateway, provider: CodeProviderError},
			"Vault answered the login without a token")
	}
	if err != nil {
		c := classifyVault(err)
		if c.status == 400 || c.status == 404 {
			// Vault answers a wrong role, secret id or JWT with 400 (or 403), and an
			// auth method not mounted at the path with 404 (or 403).
			c.code, c.provider = ledgererr.Forbidden, CodeAccessDenied
		}
		return nil, s.sessionErr(op, err, c, refused)
	}
	c, err := s.newAPIClient(sec.Auth.ClientToken)
	if err != nil {
		return nil, err
	}
	lease := time.Duration(sec.Auth.LeaseDuration) * time.Second
	s.log.Info("vault login", "auth_method", s.cfg.Auth.Method, "ttl", lease, "renewable", sec.Auth.Renewable)
	return &tokenState{c: c, obtained: now, lease: lease, increment: lease, renewable: sec.Auth.Renewable}, nil
}

// readCredential reads a credential file and trims the line end editors leave.
func readCredential(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	clear(b)
	if v == "" {
		return "", errEmptyFile
	}
	return v, nil
}

var errEmptyFile = errors.New("the file is empty")

// fileErr is the safe error of a credential file that cannot be read: it names the
// setting, not the path (the log has the path, never the content).
func (s *Session) fileErr(op, setting string, err error) error {
	s.log.Warn("vault credential file unreadable", "op", op, "setting", setting, "err", err)
	what := "names a file the ledger cannot read"
	if errors.Is(err, errEmptyFile) {
		what = "names an empty file"
	}
	return ledgererr.Wrap(sessionCause(op, CodeProviderUnavailable, 0), ledgererr.Unavailable,
		"vault %s: %s %s", CodeProviderUnavailable, setting, what)
}

// String keeps the token out of prints of a state.
func (t *tokenState) String() string {
	return fmt.Sprintf("vault token (ttl %s, renewable %t)", t.lease, t.renewable)
}

// fileStamp tells a changed file from the one a token was read from.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

// tokenFileChanged says the token file is no longer the one st's token was read from
// (a stat per call: the operator replaces the file without a restart).
func (s *Session) tokenFileChanged(st *tokenState) bool {
	if st == nil || s.cfg.Auth.Method != AuthToken || s.cfg.Auth.TokenFile == "" {
		return false
	}
	now := stampOf(s.cfg.Auth.TokenFile)
	if now.mod.IsZero() {
		return false // unreadable now: keep the token until Vault refuses it
	}
	return !now.mod.Equal(st.stamp.mod) || now.size != st.stamp.size
}
