package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runToken(ctx context.Context, env *environment, args []string) error {
	verb := ""
	if len(args) > 0 {
		verb, args = args[0], args[1:]
	}
	fs := flags(env, "token create --board [--company ID]... [--label TEXT] | token revoke ID", tokenSummary)
	var companies stringList
	board := fs.Bool("board", false, "create a board (operator) token")
	label := fs.String("label", "", "a note on what the token is for")
	fs.Var(&companies, "company", "limit the token to this company id (repeatable); none: every company")
	switch verb {
	case "create":
		if err := parse(fs, args); err != nil {
			return err
		}
		if !*board {
			return usageError{errors.New("token create needs --board (agent keys come with bindings)")}
		}
	case "revoke":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return usageError{errors.New("want `secretsledger token revoke ID`")}
		}
	case "-h", "--help":
		fs.Usage()
		return nil
	default:
		return usageError{errors.New("want `token create --board …` or `token revoke ID`")}
	}
	return withLedger(ctx, env, func(l *ledger) error {
		if verb == "revoke" {
			if err := l.tokens.Revoke(ctx, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(env.stderr, "revoked %s\n", fs.Arg(0))
			return nil
		}
		var scope []string // nil: every company
		if len(companies) > 0 {
			scope = companies
		}
		id, token, err := l.tokens.Create(ctx, scope, *label)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "created board token %s (shown once)\n", id)
		fmt.Fprintln(env.stdout, token) // the token alone on stdout, for $(…)
		return nil
	})
}

func runReplay(ctx context.Context, env *environment, args []string) error {
	if err := parse(flags(env, "replay", replaySummary), args); err != nil {
		return err
	}
	return withLedger(ctx, env, func(l *ledger) error {
		start := time.Now()
		n, err := projections.Rebuild(ctx, l.pool, projections.All())
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "rebuilt the read models from %d events in %s\n", n, time.Since(start).Round(time.Millisecond))
		return nil
	})
}

func runSecrets(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 && args[0] == "rekey" {
		return runRekey(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "migrate-inline-env" {
		return runMigrateInlineEnv(ctx, env, args[1:])
	}
	return runSecretsClient(ctx, env, args)
}

// runRekey rewraps every data key under a new master key. The new key is written
// next to the old one first, the rewrap commits in one transaction, and only then does
// the new key replace the old file (the old one is kept as master.key.<time>.old).
func runRekey(ctx context.Context, env *environment, args []string) error {
	fs := flags(env, "secrets rekey [--new-key-file PATH]", rekeySummary)
	newKeyFile := fs.String("new-key-file", "", "file holding the new master key; default: generate one")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withLedger(ctx, env, func(l *ledger) error {
		return rekey(ctx, env, l, *newKeyFile)
	})
}

// rekey is the work of runRekey on an open ledger.
func rekey(ctx context.Context, env *environment, l *ledger, newKeyFile string) error {
	if l.db.Embedded != nil && !l.db.Embedded.Owned() {
		return errors.New("a secretsledger server is running on this instance; stop it first (it holds the old key)")
	}
	oldKey := l.local.Sealer().Key()
	fromEnv := strings.HasPrefix(oldKey.Source, "env ")
	if fromEnv && newKeyFile == "" {
		return usageError{errors.New("the master key comes from PAPERCLIP_SECRETS_MASTER_KEY; pass --new-key-file and then set the variable to the new key")}
	}
	var next localenc.MasterKey
	staged := ""
	if newKeyFile != "" {
		raw, err := os.ReadFile(newKeyFile)
		if err != nil {
			return fmt.Errorf("read %s: %w", newKeyFile, err)
		}
		k, err := localenc.ParseKey(string(raw))
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", newKeyFile, err)}
		}
		next = localenc.NewMasterKey(k, newKeyFile)
	} else {
		staged = oldKey.Source + ".new"
		generated, err := localenc.GenerateKeyFile(staged)
		if err != nil {
			return err
		}
		next = generated
	}
	nextSealer, err := localenc.NewSealer(next)
	if err != nil {
		return err
	}
	n, err := l.local.Rekey(ctx, nextSealer)
	if err != nil {
		if staged != "" {
			_ = os.Remove(staged)
		}
		return fmt.Errorf("rekey failed, nothing changed: %w", err)
	}
	fmt.Fprintf(env.stdout, "rewrapped %d data keys under master key %s (was %s)\n", n, next.Fingerprint(), oldKey.Fingerprint())
	if fromEnv {
		fmt.Fprintf(env.stdout, "now set PAPERCLIP_SECRETS_MASTER_KEY to the key in %s\n", newKeyFile)
		return nil
	}
	old := fmt.Sprintf("%s.%s.old", oldKey.Source, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(oldKey.Source, old); err != nil {
		return fmt.Errorf("the data keys are rewrapped; move the new key into place by hand (%s): %w", next.Source, err)
	}
	if err := copyKeyFile(next.Source, oldKey.Source); err != nil {
		return fmt.Errorf("the data keys are rewrapped under the key in %s; put it at %s by hand: %w", next.Source, oldKey.Source, err)
	}
	if staged != "" {
		_ = os.Remove(staged)
	}
	fmt.Fprintf(env.stdout, "the new key is in %s; the old one was kept as %s\n", oldKey.Source, filepath.Base(old))
	return nil
}

func copyKeyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
