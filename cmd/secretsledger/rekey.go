package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/lease"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// rekeyOptions are the flags of `secrets rekey`.
type rekeyOptions struct {
	newKeyFile string
	reencrypt  bool
}

// newRekeyCmd is `secrets rekey`: it rewraps every data key under a new master key. The new key is written
// next to the old one first, the rewrap commits in one transaction, and only then does
// the new key replace the old file (the old one is kept as master.key.<time>.old). With
// --reencrypt every secret then gets a fresh data key and its versions are re-encrypted.
func newRekeyCmd(env *environment) *cobra.Command {
	var o rekeyOptions
	c := &cobra.Command{
		Use:   "rekey [--new-key-file PATH] [--reencrypt]",
		Short: "rewrap every local_encrypted data key under a new master key, with --reencrypt also fresh data keys (server stopped); the log is not touched",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return withLedger(c.Context(), env, func(l *app.App) error {
				return rekey(c.Context(), env, l, o)
			})
		},
	}
	c.Flags().StringVar(&o.newKeyFile, "new-key-file", "", "file holding the new master key; default: generate one")
	c.Flags().BoolVar(&o.reencrypt, "reencrypt", false,
		"then give every secret a fresh data key and re-encrypt its versions (after a suspected master key leak); resumes an unfinished run")
	return c
}

// rekey is the work of `secrets rekey` on an open ledger.
func rekey(ctx context.Context, env *environment, l *app.App, o rekeyOptions) error {
	if l.DB.Embedded != nil && !l.DB.Embedded.Owned() {
		return usage.Error{Err: errors.New("a secretsledger server is running on this instance; stop it first (it holds the old key)")}
	}
	// With an external database the servers may run elsewhere; each holds the old key
	// and would go on writing under it (and, during a re-encryption, under old data keys).
	wait := env.progress("checking that no server holds a lease on the database", 0)
	holder, err := lease.AwaitNoHolder(ctx, l.Pool, env.cfg.LeaseTTL)
	wait.Done()
	if err != nil {
		return err
	}
	if holder != "" {
		return usage.Error{Err: fmt.Errorf("a secretsledger server (%s) is running on this database; stop every server first (they hold the old key)", holder)}
	}
	if o.reencrypt {
		pending, err := l.Local.PendingReencryption(ctx)
		if err != nil {
			return err
		}
		if pending > 0 {
			// An earlier run rewrapped under the configured key and stopped midway.
			if o.newKeyFile != "" {
				return usage.Error{Err: fmt.Errorf("a re-encryption is unfinished (%d secrets left); run `secrets rekey --reencrypt` without --new-key-file to finish it first", pending)}
			}
			fmt.Fprintf(env.stdout, "resuming the re-encryption: %d secrets left\n", pending)
			return reencrypt(ctx, env, l.Local, pending)
		}
	}
	next, n, err := rewrap(ctx, env, l, o)
	if err != nil || !o.reencrypt {
		return err
	}
	p, err := localenc.NewProvider(l.Pool, next, nil)
	if err != nil {
		return err
	}
	return reencrypt(ctx, env, p, n)
}

// rewrap rewraps every data key under a new master key (marking them for re-encryption
// when asked), moves the new key into place and returns it with the count of keys.
func rewrap(ctx context.Context, env *environment, l *app.App, o rekeyOptions) (localenc.MasterKey, int, error) {
	oldKey := l.Local.Sealer().Key()
	fromEnv := oldKey.FromEnv()
	if fromEnv && o.newKeyFile == "" {
		return localenc.MasterKey{}, 0, usage.Error{Err: errors.New("the master key comes from PAPERCLIP_SECRETS_MASTER_KEY; pass --new-key-file and then set the variable to the new key")}
	}
	var next localenc.MasterKey
	staged := ""
	if o.newKeyFile != "" {
		raw, err := os.ReadFile(o.newKeyFile)
		if err != nil {
			return next, 0, fmt.Errorf("read %s: %w", o.newKeyFile, err)
		}
		k, err := localenc.ParseKey(string(raw))
		if err != nil {
			return next, 0, usage.Error{Err: fmt.Errorf("%s: %w", o.newKeyFile, err)}
		}
		next = localenc.NewMasterKey(k, o.newKeyFile)
	} else {
		staged = oldKey.Source + ".new"
		generated, err := localenc.GenerateKeyFile(staged)
		if err != nil {
			return next, 0, err
		}
		next = generated
	}
	nextSealer, err := localenc.NewSealer(next)
	if err != nil {
		return next, 0, err
	}
	p := env.progress("rewrapping the data keys", 0)
	n, err := l.Local.Rekey(ctx, nextSealer, o.reencrypt)
	p.Done()
	if err != nil {
		if staged != "" {
			_ = os.Remove(staged)
		}
		return next, 0, fmt.Errorf("rekey failed, nothing changed: %w", err)
	}
	fmt.Fprintf(env.stdout, "rewrapped %d data keys under master key %s (was %s)\n", n, next.Fingerprint(), oldKey.Fingerprint())
	if fromEnv {
		fmt.Fprintf(env.stdout, "now set PAPERCLIP_SECRETS_MASTER_KEY to the key in %s\n", o.newKeyFile)
		return next, n, nil
	}
	old, err := localenc.ReplaceKeyFile(oldKey.Source, next, time.Now())
	if err != nil {
		return next, n, err
	}
	if staged != "" {
		_ = os.Remove(staged)
	}
	fmt.Fprintf(env.stdout, "the new key is in %s; the old one was kept as %s\n", oldKey.Source, filepath.Base(old))
	return next, n, nil
}

// reencrypt gives the secrets marked for it fresh data keys under p's master key,
// drawing a progress line of total.
func reencrypt(ctx context.Context, env *environment, p *localenc.Provider, total int) error {
	bar := env.progress("re-encrypting the secrets", int64(total))
	n, err := p.Reencrypt(ctx, func() error { bar.Add(1); return nil })
	bar.Done()
	if err != nil {
		return fmt.Errorf("re-encryption stopped after %d secrets; every secret stays readable, and `secrets rekey --reencrypt` finishes it: %w", n, err)
	}
	fmt.Fprintf(env.stdout, "re-encrypted %d secrets under fresh data keys wrapped by master key %s\n", n, p.Sealer().Key().Fingerprint())
	return nil
}
