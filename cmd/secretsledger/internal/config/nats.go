package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NATS configures the decentralized (operator/account JWT) authentication the ledger
// uses with NATS. The embedded server's key material lives in <instance>/nats/auth; the
// files below are for NATS_URL.
type NATS struct {
	// CredsFile is LEDGER_NATS_CREDS_FILE: the ledger user's .creds file.
	CredsFile string
	// Account is LEDGER_NATS_ACCOUNT: the public key of the account the ledger publishes in.
	Account string
	// AccountSeedFile is LEDGER_NATS_ACCOUNT_SEED_FILE: a signing key seed of Account
	// (0600); subscriber JWTs are signed with it.
	AccountSeedFile string
	// OperatorSeedFile is LEDGER_NATS_OPERATOR_SEED_FILE: an operator signing key seed
	// (0600); with it, revocations are pushed into the account JWT.
	OperatorSeedFile string
	// SystemCredsFile is LEDGER_NATS_SYSTEM_CREDS_FILE: a system account user that
	// pushes the account JWT (needed with OperatorSeedFile).
	SystemCredsFile string
	// CredsTTL is LEDGER_NATS_CREDS_TTL (default 24h, 1m to 720h): the lifetime of
	// issued subscriber JWTs.
	CredsTTL time.Duration
	// Replicas is LEDGER_NATS_REPLICAS (default 1, 1 to 5): the LEDGER stream's
	// replication factor when the ledger creates it.
	Replicas int
}

func natsFromEnv(getenv func(string) string, problems []string) (NATS, []string) {
	n := NATS{
		CredsFile:        strings.TrimSpace(getenv("LEDGER_NATS_CREDS_FILE")),
		Account:          strings.TrimSpace(getenv("LEDGER_NATS_ACCOUNT")),
		AccountSeedFile:  strings.TrimSpace(getenv("LEDGER_NATS_ACCOUNT_SEED_FILE")),
		OperatorSeedFile: strings.TrimSpace(getenv("LEDGER_NATS_OPERATOR_SEED_FILE")),
		SystemCredsFile:  strings.TrimSpace(getenv("LEDGER_NATS_SYSTEM_CREDS_FILE")),
		CredsTTL:         24 * time.Hour,
		Replicas:         1,
	}
	n.CredsTTL, problems = boundedDuration(getenv, "LEDGER_NATS_CREDS_TTL", n.CredsTTL, time.Minute, 720*time.Hour, false, problems)
	if v := getenv("LEDGER_NATS_REPLICAS"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 1 || r > 5 {
			problems = append(problems, fmt.Sprintf("LEDGER_NATS_REPLICAS must be 1 to 5, got %q", v))
		}
		n.Replicas = r
	}
	return n, problems
}

// problems reports settings that do not fit together. The embedded server (external
// false) brings its own key material, so the files are for NATS_URL only.
func (n NATS) problems(external bool) []string {
	var out []string
	set := n.CredsFile != "" || n.Account != "" || n.AccountSeedFile != "" || n.OperatorSeedFile != "" || n.SystemCredsFile != ""
	if !external {
		if set {
			out = append(out, "LEDGER_NATS_CREDS_FILE, LEDGER_NATS_ACCOUNT and the LEDGER_NATS_*_SEED_FILE/SYSTEM_CREDS_FILE settings are for NATS_URL; the embedded server keeps its own in <instance>/nats/auth")
		}
		if n.Replicas > 1 {
			out = append(out, "LEDGER_NATS_REPLICAS above 1 needs a NATS cluster (NATS_URL); the embedded server is one node")
		}
		return out
	}
	if (n.Account == "") != (n.AccountSeedFile == "") {
		out = append(out, "LEDGER_NATS_ACCOUNT and LEDGER_NATS_ACCOUNT_SEED_FILE go together: set both to issue subscriber credentials, or neither")
	}
	if n.AccountSeedFile != "" && n.CredsFile == "" {
		out = append(out, "LEDGER_NATS_ACCOUNT_SEED_FILE needs LEDGER_NATS_CREDS_FILE: the ledger's own user in that account")
	}
	if n.OperatorSeedFile != "" && (n.AccountSeedFile == "" || n.SystemCredsFile == "") {
		out = append(out, "LEDGER_NATS_OPERATOR_SEED_FILE needs LEDGER_NATS_ACCOUNT_SEED_FILE and LEDGER_NATS_SYSTEM_CREDS_FILE")
	}
	if n.SystemCredsFile != "" && n.OperatorSeedFile == "" {
		out = append(out, "LEDGER_NATS_SYSTEM_CREDS_FILE is only used with LEDGER_NATS_OPERATOR_SEED_FILE")
	}
	return out
}
