package natsbus

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Subscriber is a company-scoped NATS user: it may only pull from its own consumer (named
// by ID) and read its own inbox.
type Subscriber struct {
	ID        string
	CompanyID string
}

// SubscriberUser is the name in a subscriber's user JWT.
func SubscriberUser(id string) string { return "sub-" + id }

// InboxPrefix is the only inbox a subscriber may use: a private prefix, so no other
// subscriber can read the replies (and pulled messages) it receives.
func InboxPrefix(id string) string { return "_INBOX_" + strings.ReplaceAll(id, ".", "_") }

// EmbeddedOptions configure the embedded server.
type EmbeddedOptions struct {
	// Addr is host:port of the client listener (LEDGER_NATS_ADDR).
	Addr string
	// Dir holds JetStream storage, the account resolver and the operator-mode setup.
	Dir string
}

// Embedded is a nats-server running inside the ledger process, in operator mode: the
// same decentralized authentication as an external deployment, set up by the instance
// itself (EnsureInstanceAuth).
type Embedded struct {
	srv  *server.Server
	auth InstanceAuth
}

// StartEmbedded starts nats-server with JetStream and operator-mode authentication.
// An instance directory of the earlier password mode moves to operator mode here: its
// password file is removed (that user no longer exists), and its JetStream data is
// moved into the ledger's account.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	host, portText, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("natsbus: LEDGER_NATS_ADDR %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("natsbus: LEDGER_NATS_ADDR %q: bad port", o.Addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as its default port, 4222
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "jetstream"), 0o700); err != nil {
		return nil, fmt.Errorf("natsbus: create %s: %w", o.Dir, err)
	}
	auth, err := EnsureInstanceAuth(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := migratePasswordMode(o.Dir, auth.Account); err != nil {
		return nil, err
	}
	opts := server.Options{
		ServerName: "secretsledger",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(o.Dir, "jetstream"),
		NoSigs:     true, // the ledger handles signals and shuts the server down itself
		NoLog:      true,
	}
	if err := auth.configure(&opts, filepath.Join(o.Dir, "resolver")); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&opts)
	if err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("natsbus: the embedded NATS server did not start on %s (address in use?)", o.Addr)
	}
	return &Embedded{srv: srv, auth: auth}, nil
}

// migratePasswordMode moves an instance of the password mode (a ledger.password file,
// JetStream data in the global account) to operator mode. The stream and its
// consumers move with the data; the users they served do not exist any more, so their
// runtimes need new credentials.
func migratePasswordMode(dir, account string) error {
	global := filepath.Join(dir, "jetstream", "jetstream", server.DEFAULT_GLOBAL_ACCOUNT)
	target := filepath.Join(dir, "jetstream", "jetstream", account)
	if _, err := os.Stat(global); err == nil {
		if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
			if err := os.Rename(global, target); err != nil {
				return fmt.Errorf("natsbus: move the JetStream data into the ledger's account: %w", err)
			}
		}
	}
	if err := os.Remove(filepath.Join(dir, "ledger.password")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("natsbus: remove the password of the earlier mode: %w", err)
	}
	return nil
}

// Auth is the instance's operator-mode setup.
func (e *Embedded) Auth() InstanceAuth { return e.auth }

// Endpoint is the client URL with the ledger user's credentials.
func (e *Embedded) Endpoint() Endpoint {
	return Endpoint{URL: e.ClientURL(), CredsFile: e.auth.LedgerCredsFile()}
}

// ClientURL is the URL without credentials, for subscribers.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
