package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

type verifyOptions struct {
	pubkey      string // ed25519:<base64>; empty: the key file's public key
	checkpoints string // an export file to check against as well
	export      string // an audit export to check offline instead of the database
}

func newVerifyCmd(env *environment) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [--pubkey ed25519:…] [--checkpoints FILE | --export FILE]",
		Short: "walk the event log's hash chain and check it against the signed checkpoints; exit 1 on any finding",
		Long: "Walk the event log's hash chain, check every signed checkpoint's signature, that the chain passes through " +
			"each checkpointed (position, hash), and that the log does not end before the newest checkpoint. Checkpoints " +
			"come from ledger_checkpoints and, with --checkpoints, from an exported copy (LEDGER_CHECKPOINT_EXPORT), which " +
			"catches a deleted table too. With the integrity key (LEDGER_INTEGRITY_KEY_FILE) it also checks every event's MAC: " +
			"an event the ledger did not write is reported forged; without the key it says the MACs were not checked. " +
			"Each finding names the first bad position. Exit 1 on any finding.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.export != "" {
				return runVerifyExport(env, o.export, o.pubkey)
			}
			return runVerify(c.Context(), env, o)
		},
	}
	cmd.Flags().StringVar(&o.pubkey, "pubkey", "", "verify signatures with this public key (from `checkpoint pubkey`) instead of the key file's")
	cmd.Flags().StringVar(&o.checkpoints, "checkpoints", "", "also check against this exported checkpoint file (JSON lines)")
	cmd.Flags().StringVar(&o.export, "export", "", "check this `audit export` file offline instead of the database (no server or database needed)")
	return cmd
}

func runVerify(ctx context.Context, env *environment, o verifyOptions) error {
	env.quietDatabase()
	var exported []app.CheckpointSource
	if o.checkpoints != "" {
		f, err := os.Open(o.checkpoints)
		if err != nil {
			return usage.Error{Err: fmt.Errorf("--checkpoints: %w", err)}
		}
		cps, err := checkpoint.ReadLines(f)
		f.Close()
		if err != nil {
			return usage.Error{Err: fmt.Errorf("--checkpoints %s: %w", o.checkpoints, err)}
		}
		exported = append(exported, app.CheckpointSource{Name: o.checkpoints, Checkpoints: cps})
	}
	return withLedger(ctx, env, func(l *app.App) error {
		v, err := l.Verify(ctx, exported, func() (ed25519.PublicKey, error) { return verifyKey(env, o.pubkey) })
		if err != nil {
			return err
		}
		return reportVerify(env, v)
	})
}

// verifyKey is the public key signatures are checked with: --pubkey, else the key
// file's. verify never creates a key.
func verifyKey(env *environment, text string) (ed25519.PublicKey, error) {
	if text != "" {
		pub, err := checkpoint.ParsePublicKey(text)
		if err != nil {
			return nil, usage.Error{Err: fmt.Errorf("--pubkey: %w", err)}
		}
		return pub, nil
	}
	key, err := checkpoint.LoadKey(env.cfg.CheckpointKeyFile())
	if err != nil {
		return nil, usage.Error{Err: fmt.Errorf("cannot check the signed checkpoints: %w; pass --pubkey (from `secretsledger checkpoint pubkey`) or set LEDGER_CHECKPOINT_KEY_FILE", err)}
	}
	return key.Public().(ed25519.PublicKey), nil
}

// reportVerify prints a BROKEN line per finding, or the summary of an intact log.
func reportVerify(env *environment, v app.Verification) error {
	rep := v.Log
	findings := 0
	if !rep.OK() {
		findings++
		fmt.Fprintf(env.stdout, "BROKEN at position %d: %s (%d events checked)\n", rep.BrokenAt, rep.Reason, rep.Checked)
	}
	var checked, newest int64
	summary := ""
	for _, res := range v.Sources {
		for _, f := range res.Findings {
			findings++
			fmt.Fprintf(env.stdout, "BROKEN at position %d: %s: %s (checkpoints from %s)\n", f.Position, f.Kind, f.Detail, res.Name)
		}
		checked += int64(res.Checked)
		newest = max(newest, res.Newest)
		if summary != "" {
			summary += ", "
		}
		summary += fmt.Sprintf("%s: %d of %d valid, %d passed through", res.Name, res.Checked, len(res.Checkpoints), res.Agreeing)
	}
	if !rep.MACsChecked {
		fmt.Fprintf(env.stdout, "event MACs: not checked (no integrity key at %s): an event forged with a correct chain hash after the newest checkpoint goes undetected\n",
			env.cfg.IntegrityKeyFile())
	}
	if findings > 0 {
		return errors.New("the log does not verify: see the BROKEN lines above")
	}
	fmt.Fprintf(env.stdout, "ok: %d events, head position %d, head hash %x\n", rep.Checked, rep.HeadPosition, rep.HeadHash)
	if rep.MACsChecked {
		fmt.Fprintln(env.stdout, "event MACs: every event written since MACs began is authenticated by the integrity key")
	}
	if checked == 0 {
		fmt.Fprintf(env.stdout, "checkpoints: none yet; the whole log is unsigned (%s)\n", summary)
		return nil
	}
	fmt.Fprintf(env.stdout, "checkpoints: newest signed position %d, %d event(s) after it not signed yet (%s)\n",
		newest, rep.HeadPosition-newest, summary)
	return nil
}
