package natsbus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// The files of an instance's operator-mode setup, in <nats dir>/auth, all 0600.
// WARNING: persisted; the names are what operators back up and what tests read.
const (
	authDirName          = "auth"
	operatorJWTFile      = "operator.jwt"
	operatorSeedFile     = "operator.seed"
	operatorSigningFile  = "operator-signing.seed"
	systemAccountJWTFile = "system-account.jwt"
	systemCredsFile      = "system.creds"
	accountJWTFile       = "account.jwt"
	accountSigningFile   = "account-signing.seed"
	ledgerCredsFile      = "ledger.creds"
)

// InstanceAuth is the operator-mode setup of the embedded server: an operator, the
// system account, the ledger's account (JetStream enabled) with a signing key, and the
// ledger user and a system user. EnsureInstanceAuth creates it once; after that it only
// changes through the resolver (revocations).
type InstanceAuth struct {
	// Dir is the directory holding the files.
	Dir string
	// Operator is the operator JWT the servers trust.
	Operator *jwt.OperatorClaims
	// SystemAccount and Account are the accounts' public keys; SystemAccountJWT and
	// AccountJWT their first JWTs, loaded into a resolver that has none yet.
	SystemAccount, SystemAccountJWT string
	Account, AccountJWT             string
}

// Config is the key material the ledger issues and revokes with.
func (a InstanceAuth) Config() AuthConfig {
	return AuthConfig{Account: a.Account, AccountSeedFile: filepath.Join(a.Dir, accountSigningFile),
		OperatorSeedFile: filepath.Join(a.Dir, operatorSigningFile), SystemCredsFile: filepath.Join(a.Dir, systemCredsFile)}
}

// LedgerCredsFile is the ledger user's .creds file.
func (a InstanceAuth) LedgerCredsFile() string { return filepath.Join(a.Dir, ledgerCredsFile) }

// EnsureInstanceAuth loads the operator-mode setup in dir/auth, creating it on first
// use. It is created in a temporary directory and renamed into place, so a crash leaves
// either all of it or none.
func EnsureInstanceAuth(dir string) (InstanceAuth, error) {
	path := filepath.Join(dir, authDirName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return InstanceAuth{}, fmt.Errorf("natsbus: create %s: %w", dir, err)
		}
		tmp, err := os.MkdirTemp(dir, authDirName+".tmp-")
		if err != nil {
			return InstanceAuth{}, fmt.Errorf("natsbus: %w", err)
		}
		defer os.RemoveAll(tmp)
		if err := createInstanceAuth(tmp); err != nil {
			return InstanceAuth{}, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return InstanceAuth{}, fmt.Errorf("natsbus: %w", err)
		}
	} else if err != nil {
		return InstanceAuth{}, fmt.Errorf("natsbus: %w", err)
	}
	return loadInstanceAuth(path)
}

func createInstanceAuth(dir string) error {
	op, _ := nkeys.CreateOperator()
	opSign, _ := nkeys.CreateOperator()
	sys, _ := nkeys.CreateAccount()
	acc, _ := nkeys.CreateAccount()
	accSign, _ := nkeys.CreateAccount()
	opPub, _ := op.PublicKey()
	opSignPub, _ := opSign.PublicKey()
	sysPub, _ := sys.PublicKey()
	accPub, _ := acc.PublicKey()
	accSignPub, _ := accSign.PublicKey()

	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "secretsledger"
	oc.SigningKeys.Add(opSignPub)
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		return fmt.Errorf("natsbus: operator JWT: %w", err)
	}
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	sysJWT, err := sc.Encode(opSign)
	if err != nil {
		return fmt.Errorf("natsbus: system account JWT: %w", err)
	}
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "LEDGER"
	ac.SigningKeys.Add(accSignPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(opSign)
	if err != nil {
		return fmt.Errorf("natsbus: account JWT: %w", err)
	}
	ledgerCreds, err := userCreds(accSign, accPub, "ledger")
	if err != nil {
		return err
	}
	sysCreds, err := userCreds(sys, "", "ledger-system")
	if err != nil {
		return err
	}
	opSeed, _ := op.Seed()
	opSignSeed, _ := opSign.Seed()
	accSignSeed, _ := accSign.Seed()
	for name, content := range map[string][]byte{
		operatorJWTFile: []byte(opJWT), operatorSeedFile: opSeed, operatorSigningFile: opSignSeed,
		systemAccountJWTFile: []byte(sysJWT), systemCredsFile: sysCreds,
		accountJWTFile: []byte(accJWT), accountSigningFile: accSignSeed, ledgerCredsFile: ledgerCreds,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), append(content, '\n'), 0o600); err != nil {
			return fmt.Errorf("natsbus: write %s: %w", name, err)
		}
	}
	return nil
}

// userCreds is a .creds text of a new unrestricted user signed by signer; issuerAccount
// names the account when signer is one of its signing keys.
func userCreds(signer nkeys.KeyPair, issuerAccount, name string) ([]byte, error) {
	u, _ := nkeys.CreateUser()
	pub, _ := u.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.IssuerAccount = issuerAccount
	token, err := uc.Encode(signer)
	if err != nil {
		return nil, fmt.Errorf("natsbus: user JWT: %w", err)
	}
	seed, _ := u.Seed()
	return jwt.FormatUserConfig(token, seed)
}

func loadInstanceAuth(dir string) (InstanceAuth, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("natsbus: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	a := InstanceAuth{Dir: dir}
	opJWT, err := read(operatorJWTFile)
	if err != nil {
		return a, err
	}
	if a.Operator, err = jwt.DecodeOperatorClaims(opJWT); err != nil {
		return a, fmt.Errorf("natsbus: %s: %w", operatorJWTFile, err)
	}
	if a.SystemAccountJWT, err = read(systemAccountJWTFile); err != nil {
		return a, err
	}
	if a.AccountJWT, err = read(accountJWTFile); err != nil {
		return a, err
	}
	for _, j := range []struct {
		token string
		pub   *string
	}{{a.SystemAccountJWT, &a.SystemAccount}, {a.AccountJWT, &a.Account}} {
		c, err := jwt.DecodeAccountClaims(j.token)
		if err != nil {
			return a, fmt.Errorf("natsbus: account JWT in %s: %w", dir, err)
		}
		*j.pub = c.Subject
	}
	return a, nil
}

// configure puts opts in operator mode with a full resolver in resolverDir, loading
// the instance's account JWTs into it when it has none: a resolver that already holds
// one keeps it, with the revocations pushed since.
func (a InstanceAuth) configure(opts *server.Options, resolverDir string) error {
	res, err := server.NewDirAccResolver(resolverDir, 0, 0, server.NoDelete)
	if err != nil {
		return fmt.Errorf("natsbus: account resolver: %w", err)
	}
	for pub, token := range map[string]string{a.SystemAccount: a.SystemAccountJWT, a.Account: a.AccountJWT} {
		if _, err := res.LoadAcc(pub); err == nil {
			continue
		}
		if err := res.Store(pub, token); err != nil {
			res.Close()
			return fmt.Errorf("natsbus: load account %s: %w", pub, err)
		}
	}
	opts.TrustedOperators = []*jwt.OperatorClaims{a.Operator}
	opts.SystemAccount = a.SystemAccount
	opts.AccountResolver = res
	return nil
}
