package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/replaybench"
)

// runReplayBench is `bench --replay n`: the measurement on a scratch database next to
// the instance's, printed as one JSON object or two lines.
func runReplayBench(ctx context.Context, env *environment, n int, asJSON bool) error {
	return withLedger(ctx, env, func(l *app.App) error {
		res, err := replaybench.Run(ctx, l.DB.MigrationURL, n, env.progress)
		if err != nil {
			return err
		}
		if asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(env.stdout, string(b))
			return nil
		}
		fmt.Fprintf(env.stdout, "appended %d synthetic events in %.1fs; rebuilt every read model in %.1fs (%.0f events/s), appends blocked %.0f ms; peak RSS during the rebuild %.0f MB; verified the hash chain in %.2fs\n",
			res.Events, res.AppendSec, res.RebuildSec, res.EventsPerSec, res.BlockedMS, res.PeakRSSMB, res.VerifySec)
		fmt.Fprintf(env.stdout, "audit queries on that log (slowest of 3): exposure of one secret %.0f ms, one consumer's reach %.0f ms, "+
			"the company's state at the head %.0f ms and at the middle %.0f ms\n",
			res.AuditExposureMS, res.AuditConsumerMS, res.AuditStateMS, res.AuditStateMidMS)
		return nil
	})
}
