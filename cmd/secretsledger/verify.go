package main

import (
	"context"
	"errors"
	"fmt"
)

func runVerify(ctx context.Context, env *environment, args []string) error {
	if err := parse(flags(env, "verify", verifySummary), args); err != nil {
		return err
	}
	return withLedger(ctx, env, func(l *ledger) error {
		rep, err := l.store.Verify(ctx)
		if err != nil {
			return err
		}
		if !rep.OK() {
			fmt.Fprintf(env.stdout, "BROKEN at position %d: %s (%d events checked)\n", rep.BrokenAt, rep.Reason, rep.Checked)
			return errors.New("the hash chain is broken")
		}
		fmt.Fprintf(env.stdout, "ok: %d events, head position %d, head hash %x\n", rep.Checked, rep.HeadPosition, rep.HeadHash)
		return nil
	})
}
