package awssm

import "time"

// WithCallTimeout bounds each provider call, retries included (default 30 s).
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithCommitRetry sets the first backoff and the number of attempts of the background
// retry of a failed Commit (defaults 2 s and 8, doubling up to 5 min).
func WithCommitRetry(first time.Duration, attempts int) Option {
	return func(o *options) { o.commitBackoff, o.commitTries = first, attempts }
}
