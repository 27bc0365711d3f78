package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/loadtest"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// benchOptions are bench's flags.
type benchOptions struct {
	scenario, url, cpuprofile string
	concurrency, replay       int
	duration, warmup          time.Duration
	asJSON                    bool
}

func newBenchCmd(env *environment) *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench --scenario create|rotate|resolve|mixed|raw-insert [--concurrency N] [--duration D] [--json] | bench --replay N",
		Short: "load-test a running server over HTTP, or time a rebuild of N synthetic events (--replay N)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runBench(c.Context(), env, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.scenario, "scenario", "", "create, rotate, resolve, mixed, or raw-insert (the yardstick: single-row INSERTs on the same database)")
	f.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration")
	f.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before it")
	f.StringVar(&o.url, "url", "", "server URL (default: the local instance, or LEDGER_URL)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	f.IntVar(&o.replay, "replay", 0, "instead: append this many synthetic events to a scratch database and time a full rebuild")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write this process's CPU profile here (for --replay: the rebuild)")
	_ = c.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(append(slices.Clone(loadtest.Scenarios), loadtest.RawInsert), cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runBench(ctx context.Context, env *environment, o benchOptions) error {
	if o.replay == 0 {
		if o.scenario == "" {
			return usage.Error{Err: fmt.Errorf("--scenario is required: one of %s, %s", strings.Join(loadtest.Scenarios, ", "), loadtest.RawInsert)}
		}
		if !slices.Contains(loadtest.Scenarios, o.scenario) && o.scenario != loadtest.RawInsert {
			return usage.Error{Err: fmt.Errorf("unknown scenario %q: one of %s, %s", o.scenario, strings.Join(loadtest.Scenarios, ", "), loadtest.RawInsert)}
		}
		if o.concurrency < 1 || o.duration <= 0 {
			return usage.Error{Err: errors.New("--concurrency must be at least 1 and --duration positive")}
		}
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.replay > 0 {
		return runReplayBench(ctx, env, o.replay, o.asJSON)
	}
	app.CollectGarbageLessOften() // the load generator is a server's client: the same garbage pattern
	base, token, err := serverAndToken(env)
	if err != nil {
		return err
	}
	if o.url != "" {
		base = strings.TrimRight(o.url, "/")
	}
	opts := loadtest.Options{BaseURL: base, Token: token, Scenario: o.scenario,
		Concurrency: o.concurrency, Duration: o.duration, Warmup: o.warmup}
	var res loadtest.Result
	if o.scenario == loadtest.RawInsert {
		dbURL, err := benchDatabaseURL(env)
		if err != nil {
			return err
		}
		res, err = loadtest.RunRawInsert(ctx, dbURL, opts)
		if err != nil {
			return err
		}
	} else if res, err = loadtest.Run(ctx, opts); err != nil {
		return err
	}
	if o.asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(env.stdout, string(b))
	} else {
		fmt.Fprintf(env.stdout, "%s, %d clients, %.1fs: %.1f ops/s; latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %d errors\n",
			res.Scenario, res.Concurrency, res.DurationSec, res.OpsPerSec, res.P50, res.P90, res.P99, res.Max, res.Errors)
		if res.ProjectionLag.N > 0 {
			fmt.Fprintf(env.stdout, "projection lag (ack → visible): p50 %.2f ms, p99 %.2f ms (%d samples)\n",
				res.ProjectionLag.P50, res.ProjectionLag.P99, res.ProjectionLag.N)
		}
		if l := res.SubscriberLag; l != nil && l.N > 0 {
			fmt.Fprintf(env.stdout, "commit → NATS subscriber: p50 %.2f ms, p99 %.2f ms (%d events)\n", l.P50, l.P99, l.N)
		}
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d errors; the first: %s", res.Errors, res.FirstError)
	}
	return nil
}

// benchDatabaseURL is the running instance's database as the owner, for the raw-insert
// yardstick (it creates and drops a scratch table, which the runtime role may not).
func benchDatabaseURL(env *environment) (string, error) {
	if err := env.cfg.Validate(); err != nil {
		return "", usage.Error{Err: err}
	}
	return database.URL(env.cfg, true)
}
