package vaultkv

import (
	"context"
	"errors"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Bounds of the renewer's waits: never busier than minMaintainWait (a token close to
// its end would otherwise be checked in a tight loop), and after a failure retry no
// later than maxRetryWaitRenew.
const (
	minMaintainWait   = 500 * time.Millisecond
	maxRetryWaitRenew = 30 * time.Second
)

// startRenewer starts the renewal goroutine once; s.mu is held.
func (s *Session) startRenewer() {
	if s.renewer {
		return
	}
	s.renewer = true
	s.wg.Add(1)
	go s.renewLoop()
}

// renewLoop keeps the token alive until Close: at two thirds of its lease it renews it
// (renew-self), and logs in again instead when it is not renewable, its max TTL is near
// or the renewal fails. A token that never expires needs nothing.
func (s *Session) renewLoop() {
	defer s.wg.Done()
	var retry time.Duration
	for {
		st := s.cur.Load()
		wait, ok := nextMaintenance(st, time.Now())
		if retry > 0 && ok {
			wait = retry
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if ok {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		woken := false
		select {
		case <-s.ctx.Done():
			stopTimer(timer)
			return
		case <-s.wake:
			woken = true
		case <-fire:
		}
		stopTimer(timer)
		if woken {
			retry = 0
			continue
		}
		if s.cur.Load() != st {
			continue
		}
		if err := s.maintain(st); err != nil {
			retry = min(max(time.Until(st.expires())/4, minMaintainWait), maxRetryWaitRenew)
		} else {
			retry = 0
		}
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// errNoAuth is the raw error of a renewal answered without a lease.
var errNoAuth = errors.New("renew-self answered no auth")

// nextMaintenance is how long to wait before renewing st or replacing it; false when
// nothing is to be done (no token, a token that never expires, or one already expired:
// the next call logs in).
func nextMaintenance(st *tokenState, now time.Time) (time.Duration, bool) {
	if st == nil || st.lease <= 0 || !now.Before(st.expires()) {
		return 0, false
	}
	due := st.obtained.Add(st.lease * 2 / 3)
	return max(due.Sub(now), minMaintainWait), true
}

// maintain renews st, or logs in again when st cannot be renewed further.
func (s *Session) maintain(st *tokenState) error {
	if st.renewable && !st.capped {
		next, err := s.renew(st)
		if err == nil {
			s.cur.CompareAndSwap(st, next)
			return nil
		}
		s.log.Warn("vault token renewal failed; logging in again", "auth_method", s.cfg.Auth.Method)
	}
	f, err := s.start(st)
	if err != nil {
		return err
	}
	select {
	case <-f.done:
	case <-s.ctx.Done():
		return errClosed
	}
	if f.err == nil && f.st.c.Token() == st.c.Token() && !f.st.renewable {
		// The token method with the same token: only the operator can replace it.
		s.log.Warn("vault token cannot be renewed; put a new token in "+EnvVaultTokenFile+" before it expires",
			"expires_in", time.Until(f.st.expires()).Round(time.Second))
	}
	return f.err
}

// renew extends st's token by its first TTL (renew-self). A renewal that grants less
// than it asked is capped by the token's max TTL: the state says so, and the next
// maintenance logs in again.
func (s *Session) renew(st *tokenState) (*tokenState, error) {
	ctx, cancel := context.WithTimeout(s.ctx, DefaultLoginTimeout)
	defer cancel()
	now := time.Now()
	increment := st.increment
	if increment <= 0 {
		increment = st.lease
	}
	sec, err := st.c.Auth().Token().RenewSelfWithContext(ctx, int(increment/time.Second))
	if err == nil && (sec == nil || sec.Auth == nil) {
		return nil, s.sessionErr("renew-self", errNoAuth, vaultClass{code: ledgererr.BadGateway, provider: CodeProviderError}, "Vault answered the renewal without a lease")
	}
	if err != nil {
		return nil, s.sessionErr("renew-self", err, classifyVault(err), "Vault refused to renew the session's token")
	}
	lease := time.Duration(sec.Auth.LeaseDuration) * time.Second
	next := &tokenState{c: st.c, obtained: now, lease: lease, increment: increment,
		renewable: sec.Auth.Renewable, capped: lease < increment, stamp: st.stamp}
	s.log.Info("vault token renewed", "auth_method", s.cfg.Auth.Method, "ttl", lease, "renewable", next.renewable)
	return next, nil
}
