package eventstore

import "time"

// Kinds of refused appends an Observer hears about.
const (
	// ConflictVersion: the stream was not at the expected version (optimistic concurrency).
	ConflictVersion = "version"
	// ConflictIdempotency: an idempotency key came back with a different request.
	ConflictIdempotency = "idempotency"
	// ConflictUnique: a read model's unique constraint refused the append (a duplicate
	// secret name or key, a second binding at a config path).
	ConflictUnique = "unique"
)

// Observer hears what the appends and the sealer do, for metrics. Appends call it from
// many goroutines at once, so its methods must be quick, safe for that, and must not
// block.
type Observer interface {
	// BatchCommitted reports one committed append transaction: the events it wrote and
	// how long it took.
	BatchCommitted(events int, d time.Duration)
	// Conflict reports one refused append, by kind (ConflictVersion, ...).
	Conflict(kind string)
	// Sealed reports one sealed batch: its events, and how long the oldest of them
	// waited since it was recorded (the sealer's lag, the append's own time included).
	Sealed(events int, lag time.Duration)
	// SealFailed reports why the sealer could not seal (a *SealError when it stops
	// before an event it must not chain); the same SealError is reported once.
	SealFailed(err error)
}

// nopObserver is the Observer of a Store configured without one.
type nopObserver struct{}

func (nopObserver) BatchCommitted(int, time.Duration) {}
func (nopObserver) Conflict(string)                   {}
func (nopObserver) Sealed(int, time.Duration)         {}
func (nopObserver) SealFailed(error)                  {}
