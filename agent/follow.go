package agent

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// FollowOptions tune Follow. The zero value is the default.
type FollowOptions struct {
	// Wait is each long poll's wait in seconds (1 to 30; 0: the server's default, 25).
	Wait int
	// Retry is the pause after a transient failure before asking again (0: one second).
	Retry time.Duration
	// OnRetry, when set, is told of each transient failure before the pause (to log it;
	// the error names no value).
	OnRetry func(error)
}

// Follow follows the change feed from position after (from Head, read before the
// resolution it keeps current) and calls fn with each answer that holds changes, in
// order; fn decides whether to resolve again. It returns when ctx ends (ctx's error),
// when fn returns an error (that error), when the key is refused (the *Error: 401
// revoked, 403 frozen; Refused reports it), or on another 4xx answer (the *Error: asking
// again the same way cannot succeed). Anything else is transient, the server restarting
// or the network: Follow pauses and asks again from the position it had. The position
// only moves forward, to each answer's position, answers with no changes included.
func (c *Client) Follow(ctx context.Context, after int64, o FollowOptions, fn func(Changes) error) error {
	retry := o.Retry
	if retry <= 0 {
		retry = time.Second
	}
	// One poll's budget: the server's wait (at most 30 s) and time to answer.
	budget := time.Duration(max(o.Wait, 30))*time.Second + 30*time.Second
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pollCtx, cancel := context.WithTimeout(ctx, budget)
		got, err := c.Changes(pollCtx, max(after, 0), o.Wait)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !transient(err) {
				return err
			}
			if o.OnRetry != nil {
				o.OnRetry(err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(retry):
			}
			continue
		}
		if got.Position < after {
			// A server behind the one asked before (a replica catching up) answers an
			// older position: keep ours, so no change is reported twice.
			got.Position = after
		}
		after = got.Position
		if len(got.Changes) == 0 {
			continue
		}
		if err := fn(got); err != nil {
			return err
		}
	}
}

// transient reports whether asking again may succeed: no answer, a 5xx, 408 or 429, or
// an answer that did not decode (a proxy's page in its stead).
func transient(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}
