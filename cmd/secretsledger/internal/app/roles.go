package app

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/lease"
)

// roles are serve's elected background jobs: one lease per role, named the same in every
// ledger process on the database, so each job runs in one process at a time.
type roles struct {
	a      *App
	holder string
	leases []*lease.Lease
	// jobs are the running jobs: waiting for them on shutdown lets each release its
	// lease, so another process takes over at once.
	jobs sync.WaitGroup
}

func newRoles(a *App) *roles {
	return &roles{a: a, holder: lease.NewHolderID()}
}

// lease returns this process's lease on role; call it before any Run starts.
func (r *roles) lease(role string) *lease.Lease {
	l := &lease.Lease{DB: r.a.Pool, Role: role, Holder: r.holder, TTL: r.a.opts.Config.LeaseTTL, Log: r.a.opts.Log}
	r.leases = append(r.leases, l)
	return l
}

// held returns the roles this process holds now, sorted (for /readyz).
func (r *roles) held() []string {
	out := []string{}
	for _, l := range r.leases {
		if l.Held() {
			out = append(out, l.Role)
		}
	}
	sort.Strings(out)
	return out
}

// run runs job under l until ctx ends; wait waits for it. A nil lease (the role is
// off) runs nothing.
func (r *roles) run(ctx context.Context, l *lease.Lease, job func(context.Context)) {
	if l == nil {
		return
	}
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		l.Run(ctx, job)
	}()
}

func (r *roles) wait() { r.jobs.Wait() }

// sweepIdempotencyKeys forgets expired idempotency keys until ctx ends. It runs in the
// process holding the idempotency-sweep lease.
func (a *App) sweepIdempotencyKeys(ctx context.Context) {
	tick := time.NewTicker(a.Store.SweepInterval())
	defer tick.Stop()
	for {
		if n, err := a.Store.SweepIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			a.opts.Log.Warn("sweeping expired idempotency keys", "err", err)
		} else if n > 0 {
			a.opts.Log.Debug("swept expired idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// maxVaultsPerHealthRound bounds one round of scheduled vault health checks; each check
// takes up to the provider's timeout, so a round of this many ends well within an interval
// of minutes for healthy providers.
const maxVaultsPerHealthRound = 1000

// vaultHealthActor is who the scheduled checks are recorded as.
var vaultHealthActor = actor.Actor{Type: actor.Board, ID: "ledger:vault-health"}

// checkVaultsHealth checks every usable provider vault's health each
// LEDGER_VAULT_HEALTH_INTERVAL until ctx ends, one vault after another; a result is
// recorded only when a vault's health changed. It runs in the process holding the
// vault-health lease.
func (a *App) checkVaultsHealth(ctx context.Context) {
	tick := time.NewTicker(a.opts.Config.VaultHealthInterval)
	defer tick.Stop()
	for {
		ids, err := a.queries.vaults.UsableVaultIDs(ctx, maxVaultsPerHealthRound)
		if err != nil && ctx.Err() == nil {
			a.opts.Log.Warn("scheduled vault health checks: cannot list the vaults", "err", err)
		}
		for _, id := range ids {
			if _, err := a.Commands.Vaults.CheckVaultHealth(ctx, commands.Request{Actor: vaultHealthActor}, id); err != nil && ctx.Err() == nil {
				a.opts.Log.Warn("scheduled vault health check", "vault_id", id, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// runScheduledBackups takes the scheduled backups; it runs in the process holding the
// backups lease.
func (a *App) runScheduledBackups(ctx context.Context) {
	backup.RunScheduled(ctx, backup.Options{Config: a.opts.Config, Log: a.opts.Log, Getenv: a.opts.Getenv}, a.DB.MigrationURL)
}
