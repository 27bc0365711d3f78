package main

import (
	"sort"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/lease"
)

// roles are serve's elected background jobs: one lease per role, named the same in every
// ledger process on the database, so each job runs in one process at a time.
type roles struct {
	env    *environment
	db     lease.DB
	holder string
	ttl    time.Duration
	leases []*lease.Lease
}

func newRoles(env *environment, db lease.DB) *roles {
	return &roles{env: env, db: db, holder: lease.NewHolderID(), ttl: env.cfg.LeaseTTL}
}

// lease returns this process's lease on role; call it before any Run starts.
func (r *roles) lease(role string) *lease.Lease {
	l := &lease.Lease{DB: r.db, Role: role, Holder: r.holder, TTL: r.ttl, Log: r.env.log}
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
