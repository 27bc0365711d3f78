package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

// newCheckpointCmd is `checkpoint pubkey`: the public key that verifies the instance's
// signed checkpoints, to keep wherever `verify --pubkey` will run.
func newCheckpointCmd(env *environment) *cobra.Command {
	cmd := newGroup(env, "checkpoint", "the signed checkpoints of the log's head")
	cmd.AddCommand(&cobra.Command{
		Use:   "pubkey",
		Short: "print the public key of the checkpoint signing key (ed25519:<base64>)",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			if err := env.cfg.Validate(); err != nil {
				return usage.Error{Err: fmt.Errorf("invalid configuration:\n%w", err)}
			}
			key, err := checkpoint.LoadKey(env.cfg.CheckpointKeyFile())
			if errors.Is(err, os.ErrNotExist) {
				return usage.Error{Err: fmt.Errorf("no checkpoint key at %s: serve creates it on first start (or set LEDGER_CHECKPOINT_KEY_FILE)", env.cfg.CheckpointKeyFile())}
			}
			if err != nil {
				return usage.Error{Err: err}
			}
			fmt.Fprintln(env.stdout, checkpoint.PublicKeyText(key.Public().(ed25519.PublicKey)))
			return nil
		},
	})
	return cmd
}
