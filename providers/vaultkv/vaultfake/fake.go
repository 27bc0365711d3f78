package vaultfake

import (
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is what sys/health reports as the server's version.
const Version = "1.19.0"

// Policy is a token's ACL: a path in Vault's policy syntax ("secret/data/paperclip/*",
// "secret/metadata/+/config", an exact path) → its capabilities ("create", "read",
// "update", "patch", "delete", "list", "sudo", "deny"). Paths are relative to the
// namespace the token belongs to; a child namespace's paths are prefixed with its path
// relative to it ("team/secret/data/x"), as in Vault.
type Policy map[string][]string

// Fake is a Vault server. Its methods may be called from any goroutine.
type Fake struct {
	st  *state
	srv *httptest.Server
}

type fault struct {
	status int
	delay  time.Duration
	n      int
}

type state struct {
	mu         sync.Mutex
	clock      func() time.Time
	namespaces map[string]*namespace // by path without slashes at either end; "" is root
	tokens     map[string]*token
	approles   map[string]map[string]*appRole // namespace → role_id
	k8sRoles   map[string]map[string]*k8sRole // namespace → role name
	calls      map[string]int
	lastNS     map[string]string
	faults     map[string][]*fault
	root       string
	policySeq  int

	sealed, standby, standbyForwards, perfStandby, drSecondary, uninitialized bool
}

// New starts a fake with a KV version 2 engine at "secret/" in the root namespace and
// stops it when the test ends.
func New(tb testing.TB) *Fake {
	return newState().start(tb, false)
}

// NewTLS starts a fake like New that speaks HTTPS with a self-signed certificate for
// 127.0.0.1 (see CACertPEM).
func NewTLS(tb testing.TB) *Fake {
	return newState().start(tb, true)
}

// NewTLS starts a second server over HTTPS in front of the same Vault: same secrets,
// tokens, counters and faults.
func (f *Fake) NewTLS(tb testing.TB) *Fake {
	return f.st.start(tb, true)
}

func newState() *state {
	st := &state{
		clock:      time.Now,
		namespaces: map[string]*namespace{"": {path: "", mounts: map[string]*mount{}}},
		tokens:     map[string]*token{},
		approles:   map[string]map[string]*appRole{},
		k8sRoles:   map[string]map[string]*k8sRole{},
		calls:      map[string]int{},
		lastNS:     map[string]string{},
		faults:     map[string][]*fault{},
	}
	st.namespaces[""].mounts["secret"] = newMount("secret", 2)
	root := st.newToken(st.clock(), "", "auth/token/root", nil, 0, false)
	root.root = true
	root.policies = []string{"root"}
	root.displayName = "root"
	st.root = root.id
	return st
}

func (st *state) start(tb testing.TB, tls bool) *Fake {
	srv := httptest.NewUnstartedServer(st)
	// A connection per request: a client reusing an idle connection the server is closing
	// at that moment would see a transport error the test did not ask for.
	srv.Config.SetKeepAlivesEnabled(false)
	// A client refusing the certificate is what TLS tests check, not noise to log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	return &Fake{st: st, srv: srv}
}

// URL returns the server's origin, e.g. http://127.0.0.1:PORT (no /v1).
func (f *Fake) URL() string { return f.srv.URL }

// CACertPEM returns the PEM of the certificate a TLS fake presents (self-signed, so it is
// its own CA), or nil for a plain HTTP fake.
func (f *Fake) CACertPEM() []byte {
	c := f.srv.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Client returns an HTTP client that trusts the fake's certificate (for a TLS fake).
func (f *Fake) Client() *http.Client { return f.srv.Client() }

// RootToken returns the root namespace's root token: every path, every capability.
func (f *Fake) RootToken() string { return f.st.root }

// AddToken creates a token in the root namespace with the policy (and Vault's default
// policy: lookup-self, renew-self, revoke-self, capabilities-self). A ttl of 0 never
// expires. A renewable token can be renewed up to 3× ttl after its creation.
func (f *Fake) AddToken(policy Policy, ttl time.Duration, renewable bool) string {
	return f.AddTokenIn("", policy, ttl, renewable)
}

// AddTokenIn is AddToken for a token of namespace ns, valid in ns and its children.
func (f *Fake) AddTokenIn(ns string, policy Policy, ttl time.Duration, renewable bool) string {
	st := f.lock()
	defer st.mu.Unlock()
	return st.newToken(st.clock(), cleanNS(ns), "auth/token/create", policy, ttl, renewable).id
}

// RevokeToken revokes a token: every call with it answers 403 afterwards.
func (f *Fake) RevokeToken(tok string) {
	st := f.lock()
	defer st.mu.Unlock()
	if t := st.tokens[tok]; t != nil {
		t.revoked = true
	}
}

// ExpireToken makes a token expire now, as if its TTL had elapsed.
func (f *Fake) ExpireToken(tok string) {
	st := f.lock()
	defer st.mu.Unlock()
	if t := st.tokens[tok]; t != nil {
		t.expires = st.clock().Add(-time.Millisecond)
	}
}

// TokenTTL returns how long a token has left (0 for one that never expires, negative
// for an expired one) and whether the fake knows it.
func (f *Fake) TokenTTL(tok string) (time.Duration, bool) {
	st := f.lock()
	defer st.mu.Unlock()
	t := st.tokens[tok]
	if t == nil {
		return 0, false
	}
	if t.expires.IsZero() {
		return 0, true
	}
	return t.expires.Sub(st.clock()), true
}

// SetClock replaces the clock tokens expire by and timestamps are taken from.
func (f *Fake) SetClock(now func() time.Time) {
	st := f.lock()
	defer st.mu.Unlock()
	st.clock = now
}

// AddAppRole registers an AppRole in the root namespace: a login with this role_id and
// secret_id gets a renewable token with the policy and ttl.
func (f *Fake) AddAppRole(roleID, secretID string, policy Policy, ttl time.Duration) {
	f.AddAppRoleIn("", roleID, secretID, policy, ttl)
}

// AddAppRoleIn is AddAppRole for the AppRole auth method of namespace ns.
func (f *Fake) AddAppRoleIn(ns, roleID, secretID string, policy Policy, ttl time.Duration) {
	st := f.lock()
	defer st.mu.Unlock()
	ns = cleanNS(ns)
	if st.approles[ns] == nil {
		st.approles[ns] = map[string]*appRole{}
	}
	st.approles[ns][roleID] = &appRole{secretID: secretID, policy: policy, ttl: ttl}
}

// AddKubernetesRole registers a Kubernetes auth role in the root namespace: a login
// with this role and exactly this service account JWT gets a renewable token.
func (f *Fake) AddKubernetesRole(role, jwt string, policy Policy, ttl time.Duration) {
	f.AddKubernetesRoleIn("", role, jwt, policy, ttl)
}

// AddKubernetesRoleIn is AddKubernetesRole for the Kubernetes auth method of namespace ns.
func (f *Fake) AddKubernetesRoleIn(ns, role, jwt string, policy Policy, ttl time.Duration) {
	st := f.lock()
	defer st.mu.Unlock()
	ns = cleanNS(ns)
	if st.k8sRoles[ns] == nil {
		st.k8sRoles[ns] = map[string]*k8sRole{}
	}
	st.k8sRoles[ns][role] = &k8sRole{jwt: jwt, policy: policy, ttl: ttl}
}

// AddNamespace creates namespace ns ("team" or "team/app") and its missing parents.
func (f *Fake) AddNamespace(ns string) {
	st := f.lock()
	defer st.mu.Unlock()
	st.addNamespace(cleanNS(ns))
}

func (st *state) addNamespace(ns string) *namespace {
	if n := st.namespaces[ns]; n != nil {
		return n
	}
	if i := strings.LastIndex(ns, "/"); i >= 0 {
		st.addNamespace(ns[:i])
	}
	n := &namespace{path: ns, mounts: map[string]*mount{}}
	st.namespaces[ns] = n
	return n
}

// Mount enables a KV engine of version kvVersion (1 or 2) at path in namespace ns (""
// is root; a missing namespace is created). Mounting over an existing mount replaces it.
func (f *Fake) Mount(ns, path string, kvVersion int) {
	if kvVersion != 1 && kvVersion != 2 {
		panic(fmt.Sprintf("vaultfake: KV version %d", kvVersion))
	}
	st := f.lock()
	defer st.mu.Unlock()
	path = strings.Trim(path, "/")
	st.addNamespace(cleanNS(ns)).mounts[path] = newMount(path, kvVersion)
}

// Unmount disables the engine at path in namespace ns, deleting its secrets.
func (f *Fake) Unmount(ns, path string) {
	st := f.lock()
	defer st.mu.Unlock()
	if n := st.namespaces[cleanNS(ns)]; n != nil {
		delete(n.mounts, strings.Trim(path, "/"))
	}
}

// Sealed seals or unseals the server: sealed, sys/health answers 503 (or its sealedcode)
// and every other call 503 {"errors":["Vault is sealed"]}.
func (f *Fake) Sealed(sealed bool) { f.set(func(st *state) { st.sealed = sealed }) }

// Standby makes the server a standby node: sys/health answers 429 (or its standbycode,
// 200 with standbyok) and, unless StandbyForwards(true), every other call answers 503 as
// a standby that cannot reach an active node does.
func (f *Fake) Standby(standby bool) { f.set(func(st *state) { st.standby = standby }) }

// StandbyForwards makes a standby forward calls to its active node: they succeed.
func (f *Fake) StandbyForwards(forwards bool) {
	f.set(func(st *state) { st.standbyForwards = forwards })
}

// PerformanceStandby makes sys/health answer 473 (or its performancestandbycode); calls
// are served, as a performance standby serves them.
func (f *Fake) PerformanceStandby(on bool) { f.set(func(st *state) { st.perfStandby = on }) }

// DRSecondary makes sys/health answer 472 (or its drsecondarycode); other calls answer
// 503.
func (f *Fake) DRSecondary(on bool) { f.set(func(st *state) { st.drSecondary = on }) }

// Uninitialized makes sys/health answer 501 (or its uninitcode); other calls answer 503.
func (f *Fake) Uninitialized(on bool) { f.set(func(st *state) { st.uninitialized = on }) }

// FailNext makes the next n calls of op answer status with {"errors":["injected"]}.
// Ops: "data.read", "data.write", "data.patch", "data.delete", "delete", "undelete",
// "destroy", "metadata.read", "metadata.write", "metadata.patch", "metadata.delete",
// "metadata.list", "config.read", "config.write", "kv1.read", "kv1.write", "kv1.delete",
// "kv1.list", "health", "lookup-self", "renew-self", "revoke-self", "login.approle",
// "login.kubernetes", "capabilities", "mounts" (sys/internal/ui/mounts/<path> and
// sys/mounts/<path>), "unknown" (any other path).
func (f *Fake) FailNext(op string, status int, n int) {
	f.set(func(st *state) { st.faults[op] = append(st.faults[op], &fault{status: status, n: n}) })
}

// Slow makes the next n calls of op wait d (or until the client gives up) before being
// served normally.
func (f *Fake) Slow(op string, d time.Duration, n int) {
	f.set(func(st *state) { st.faults[op] = append(st.faults[op], &fault{delay: d, n: n}) })
}

// Calls returns how many requests of op arrived, failed and injected ones included. A
// client that retries makes several.
func (f *Fake) Calls(op string) int {
	st := f.lock()
	defer st.mu.Unlock()
	return st.calls[op]
}

// TotalCalls returns how many requests arrived, of every op.
func (f *Fake) TotalCalls() int {
	st := f.lock()
	defer st.mu.Unlock()
	n := 0
	for _, c := range st.calls {
		n += c
	}
	return n
}

// LastNamespace returns the namespace the last call of op was addressed to ("" root).
func (f *Fake) LastNamespace(op string) string {
	st := f.lock()
	defer st.mu.Unlock()
	return st.lastNS[op]
}

func (f *Fake) lock() *state {
	f.st.mu.Lock()
	return f.st
}

func (f *Fake) set(fn func(*state)) {
	st := f.lock()
	defer st.mu.Unlock()
	fn(st)
}

func cleanNS(ns string) string { return strings.Trim(ns, "/") }

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomString returns n random alphanumerics, as Vault's token ids are made of.
func randomString(n int) string {
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			panic(err)
		}
		b.WriteByte(alnum[i.Int64()])
	}
	return b.String()
}

func uuid() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
