package natsbus

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Credential lifetimes the ledger accepts for subscriber JWTs: long enough to outlive a
// runtime's restart, short enough that a leaked .creds file stops working by itself.
const (
	DefaultCredsTTL = 24 * time.Hour
	MinCredsTTL     = time.Second
	MaxCredsTTL     = 30 * 24 * time.Hour
)

// Endpoint is where, and as whom, the ledger connects to NATS.
type Endpoint struct {
	// URL is one server URL or a comma-separated list of a cluster's.
	URL string
	// CredsFile is the ledger user's .creds file; empty when the URL carries its
	// credentials or the server needs none.
	CredsFile string
}

// options are the connection options every ledger connection shares.
func (e Endpoint) options(name string) []nats.Option {
	// The ledger's own connections never give up: not after many failed reconnects, and
	// not after a server refused it twice (a node shutting down can refuse a login it
	// would otherwise accept), which nats.go takes as a reason to close by default.
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait), nats.IgnoreAuthErrorAbort()}
	if e.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(e.CredsFile))
	}
	return opts
}

// Connect connects as the ledger user; extra options come after the shared ones.
func (e Endpoint) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(e.URL, append(e.options(name), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	return nc, nil
}

// AuthConfig names the key material of the account the ledger publishes in. The
// embedded server's is created in its directory (see EnsureInstanceAuth); with NATS_URL
// it comes from the LEDGER_NATS_* settings.
type AuthConfig struct {
	// Account is the account's public key (A...).
	Account string
	// AccountSeedFile holds a seed (SA...) of the account: one of its signing keys, or
	// its identity key. It signs subscriber JWTs. Must be 0600 or stricter.
	AccountSeedFile string
	// OperatorSeedFile optionally holds a seed (SO...) of the operator (a signing key or
	// its identity key). With it, revoking a subscriber also revokes its JWT in the
	// account JWT, so that connections are closed at once. Must be 0600 or stricter.
	OperatorSeedFile string
	// SystemCredsFile is a user of the system account, needed to look up and push the
	// account JWT (with OperatorSeedFile).
	SystemCredsFile string
}

// ErrKeyFile is the error class of key files that cannot be used (missing, readable by
// others, or not the kind of key expected): a configuration problem.
var ErrKeyFile = errors.New("natsbus: key file")

// Authority issues subscriber credentials: user JWTs of the ledger's account, signed by
// its signing key, with exactly the permissions of permissions and an expiry.
type Authority struct {
	account  string
	signer   nkeys.KeyPair
	operator nkeys.KeyPair // nil: revocations are not pushed into the account JWT
	sysCreds string
	ttl      time.Duration
}

// LoadAuthority reads the key material of c. ttl is the lifetime of issued JWTs.
func LoadAuthority(c AuthConfig, ttl time.Duration) (*Authority, error) {
	if !nkeys.IsValidPublicAccountKey(c.Account) {
		return nil, fmt.Errorf("%w: the account %q is not an account public key (A...)", ErrKeyFile, c.Account)
	}
	if ttl < MinCredsTTL || ttl > MaxCredsTTL {
		return nil, fmt.Errorf("natsbus: credentials lifetime %s is out of range (%s to %s)", ttl, MinCredsTTL, MaxCredsTTL)
	}
	signer, err := readSeed(c.AccountSeedFile, nkeys.PrefixByteAccount)
	if err != nil {
		return nil, err
	}
	a := &Authority{account: c.Account, signer: signer, ttl: ttl, sysCreds: c.SystemCredsFile}
	if c.OperatorSeedFile != "" {
		if a.operator, err = readSeed(c.OperatorSeedFile, nkeys.PrefixByteOperator); err != nil {
			return nil, err
		}
		if c.SystemCredsFile == "" {
			return nil, fmt.Errorf("%w: an operator key needs a system account user's .creds file to push revocations", ErrKeyFile)
		}
		if _, err := os.Stat(c.SystemCredsFile); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
		}
	}
	return a, nil
}

// readSeed reads an nkey seed of kind from path, refusing a file others may read: the
// seed mints credentials.
func readSeed(path string, kind nkeys.PrefixByte) (nkeys.KeyPair, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %04o); chmod 600 it", ErrKeyFile, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	// A seed file may also be decorated like a .creds file.
	kp, err := jwt.ParseDecoratedNKey(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s holds no nkey seed", ErrKeyFile, path)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("%w: %s holds no nkey seed", ErrKeyFile, path)
	}
	if p, _, err := nkeys.DecodeSeed(seed); err != nil || p != kind {
		return nil, fmt.Errorf("%w: %s is not the seed of %s", ErrKeyFile, path, kind)
	}
	return kp, nil
}

// Account is the public key of the account subscribers are issued in.
func (a *Authority) Account() string { return a.account }

// CanRevokeInAccount reports whether revocations are pushed into the account JWT.
func (a *Authority) CanRevokeInAccount() bool { return a.operator != nil }

// Issued is a subscriber's user: its JWT and seed as a .creds text.
type Issued struct {
	// User is the user's public key (U...).
	User string
	// Creds is the .creds text (JWT and seed) as nsc writes it. It is a secret.
	Creds     string
	ExpiresAt time.Time
}

// userKey is the subscriber's user key. It is derived from the signing key's seed and
// the subscriber id, so that the ledger can name the user in a revocation later without
// storing anything: the same subscriber always has the same user key.
func (a *Authority) userKey(id string) (nkeys.KeyPair, error) {
	seed, err := a.signer.Seed()
	if err != nil {
		return nil, fmt.Errorf("natsbus: signing key: %w", err)
	}
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("secretsledger subscriber user key\x00" + id))
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("natsbus: user key: %w", err)
	}
	return kp, nil
}

// UserKey is the public key of subscriber id's user.
func (a *Authority) UserKey(id string) (string, error) {
	kp, err := a.userKey(id)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// Issue signs a user JWT for s, valid from now for the authority's lifetime.
func (a *Authority) Issue(s Subscriber) (Issued, error) {
	kp, err := a.userKey(s.ID)
	if err != nil {
		return Issued{}, err
	}
	pub, _ := kp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = SubscriberUser(s.ID)
	uc.Permissions = permissions(s)
	expires := time.Now().Add(a.ttl)
	uc.Expires = expires.Unix()
	if signer, _ := a.signer.PublicKey(); signer != a.account {
		uc.IssuerAccount = a.account // signed by a signing key of the account
	}
	token, err := uc.Encode(a.signer)
	if err != nil {
		return Issued{}, fmt.Errorf("natsbus: sign the user JWT: %w", err)
	}
	seed, _ := kp.Seed()
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		return Issued{}, fmt.Errorf("natsbus: format the .creds: %w", err)
	}
	return Issued{User: pub, Creds: string(creds), ExpiresAt: time.Unix(uc.Expires, 0).UTC()}, nil
}

// accountUpdateLockKey serializes account JWT updates across every ledger process on the
// database (a transaction-scoped advisory lock, so it works through a transaction pooler).
const accountUpdateLockKey int64 = 0x5345435245545320 // "SECRETS\x20"

// revokeAttempts bounds how often Revoke pushes when the account JWT it pushed is not
// the one the resolver then holds (someone else updated it at the same moment).
const revokeAttempts = 3

// Revoke revokes every JWT of subscriber id's user in the account JWT: it looks the
// current account JWT up through the system account, adds the revocation, signs it with
// the operator key and pushes it with $SYS.REQ.CLAIMS.UPDATE. The servers then close
// the user's connections and refuse new ones. It needs a full (or cache) resolver on
// the servers: those answer the lookup and the update.
//
// The update is read, change, write on the resolver: two at once would keep only one
// revocation. With pool, updates from every ledger process on that database take turns;
// and each push is checked by reading the account JWT back, and made again (up to
// revokeAttempts) when another writer (an operator's nsc push) replaced it meanwhile.
func (a *Authority) Revoke(ctx context.Context, ep Endpoint, pool *pgxpool.Pool, id string) error {
	if a.operator == nil {
		return errors.New("natsbus: no operator key to revoke in the account JWT")
	}
	user, err := a.UserKey(id)
	if err != nil {
		return err
	}
	if pool == nil {
		return a.revoke(ctx, ep, user)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, accountUpdateLockKey); err != nil {
			return fmt.Errorf("natsbus: wait for other account JWT updates: %w", err)
		}
		return a.revoke(ctx, ep, user)
	})
}

func (a *Authority) revoke(ctx context.Context, ep Endpoint, user string) error {
	sys, err := Endpoint{URL: ep.URL, CredsFile: a.sysCreds}.Connect("secretsledger revocations")
	if err != nil {
		return err
	}
	defer sys.Close()
	// Every JWT of the user issued until now; its subscriber is revoked, so no later one.
	now := time.Now()
	for range revokeAttempts {
		ac, err := a.lookupAccount(ctx, sys)
		if err != nil {
			return err
		}
		if ac.Revocations.IsRevoked(user, now) {
			return nil
		}
		ac.RevokeAt(user, now)
		token, err := ac.Encode(a.operator)
		if err != nil {
			return fmt.Errorf("natsbus: sign the account JWT: %w", err)
		}
		if err := pushAccount(ctx, sys, token); err != nil {
			return err
		}
	}
	return fmt.Errorf("natsbus: the account JWT kept changing under %d revocation pushes; revoke again", revokeAttempts)
}

func (a *Authority) lookupAccount(ctx context.Context, sys *nats.Conn) (*jwt.AccountClaims, error) {
	msg, err := sys.RequestWithContext(ctx, "$SYS.REQ.ACCOUNT."+a.account+".CLAIMS.LOOKUP", nil)
	if err != nil {
		return nil, fmt.Errorf("natsbus: look up the account JWT: %w", err)
	}
	if len(msg.Data) == 0 {
		return nil, fmt.Errorf("natsbus: the resolver has no JWT of account %s", a.account)
	}
	ac, err := jwt.DecodeAccountClaims(string(msg.Data))
	if err != nil {
		return nil, fmt.Errorf("natsbus: decode the account JWT: %w", err)
	}
	return ac, nil
}

func pushAccount(ctx context.Context, sys *nats.Conn, token string) error {
	resp, err := sys.RequestWithContext(ctx, "$SYS.REQ.CLAIMS.UPDATE", []byte(token))
	if err != nil {
		return fmt.Errorf("natsbus: push the account JWT: %w", err)
	}
	var r struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return fmt.Errorf("natsbus: the account JWT update answered %q", resp.Data)
	}
	if r.Error != nil {
		return fmt.Errorf("natsbus: the account JWT update was refused: %s", r.Error.Description)
	}
	return nil
}

// permissions let a subscriber do exactly what Follow needs with the consumer the ledger
// created for it (ConsumerAdmin), and nothing else:
//
//   - CONSUMER.INFO of its own consumer: jetstream's js.Consumer binds with it;
//   - CONSUMER.MSG.NEXT of its own consumer: the pull, answered into its inbox;
//   - $JS.ACK of its own consumer: acknowledging what it pulled;
//   - subscribe to its own inbox prefix only, where pulled messages and API replies land.
//
// No consumer CREATE, DELETE or update, no stream API, no $JS.API.INFO, and no direct
// subscription to the company's subjects: a subscriber that could create a consumer could
// set its deliver subject to another subscriber's inbox, or to an API subject, and make
// the server publish there on its behalf.
func permissions(s Subscriber) jwt.Permissions {
	api := "$JS.API.CONSUMER."
	var p jwt.Permissions
	p.Pub.Allow.Add(
		api+"INFO."+StreamName+"."+s.ID,
		api+"MSG.NEXT."+StreamName+"."+s.ID,
		"$JS.ACK."+StreamName+"."+s.ID+".>",
	)
	p.Sub.Allow.Add(InboxPrefix(s.ID) + ".>")
	return p
}

// SubscriberURL is url without any user information, for subscribers: each item of a
// comma-separated list is stripped.
func SubscriberURL(url string) string {
	parts := strings.Split(url, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if scheme, rest, ok := strings.Cut(p, "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				p = scheme + "://" + rest[at+1:]
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
