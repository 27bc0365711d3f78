package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/providers/localenc"
)

// newRekeyCmd is `secrets rekey`: it rewraps every data key under a new master key. The new key is written
// next to the old one first, the rewrap commits in one transaction, and only then does
// the new key replace the old file (the old one is kept as master.key.<time>.old).
func newRekeyCmd(env *environment) *cobra.Command {
	var newKeyFile string
	c := &cobra.Command{
		Use:   "rekey [--new-key-file PATH]",
		Short: "rewrap every local_encrypted data key under a new master key (server stopped); the log is not touched",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return withLedger(c.Context(), env, func(l *ledger) error {
				return rekey(c.Context(), env, l, newKeyFile)
			})
		},
	}
	c.Flags().StringVar(&newKeyFile, "new-key-file", "", "file holding the new master key; default: generate one")
	return c
}

// rekey is the work of runRekey on an open ledger.
func rekey(ctx context.Context, env *environment, l *ledger, newKeyFile string) error {
	if l.db.Embedded != nil && !l.db.Embedded.Owned() {
		return usageError{errors.New("a secretsledger server is running on this instance; stop it first (it holds the old key)")}
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
	p := env.progress("rewrapping the data keys", 0)
	n, err := l.local.Rekey(ctx, nextSealer, false)
	p.done()
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
