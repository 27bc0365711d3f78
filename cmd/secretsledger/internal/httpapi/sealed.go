package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// SealedFirst waits until the sealer chained every append acknowledged before it was
// called (eventstore.Store.SealedThrough). The routes that read the sealed log (the
// audit, a company's events) call it first: an operator who just acted expects to see
// it there.
type SealedFirst func(context.Context) (int64, error)

// sealWait bounds a request's wait for the sealer; after it, the answer is as of what
// is sealed.
const sealWait = 2 * time.Second

// first wraps fn so that it runs once the appends acknowledged before the request are
// sealed (at once when s is nil).
func (s SealedFirst) first(fn func(http.ResponseWriter, *http.Request, actor.Actor) error) func(http.ResponseWriter, *http.Request, actor.Actor) error {
	if s == nil {
		return fn
	}
	return func(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
		ctx, cancel := context.WithTimeout(r.Context(), sealWait)
		_, _ = s(ctx) // a sealer that is behind leaves the answer as of what is sealed
		cancel()
		return fn(w, r, a)
	}
}
