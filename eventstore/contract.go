package eventstore

// The rules below are those AppendWith applies; they are exported so that another
// implementation of the log's contract (the in-memory log of fast tests, memlog)
// applies the very same ones.

// Checked validates a as AppendWith does before the append joins a batch (EINVALID for
// bad input) and returns it with its idempotency request hash filled in.
func Checked(a Append) (Append, error) {
	p, err := newPending(a.Idempotency, a.Stream, a.Expected, a.Events)
	if err == nil {
		err = p.setCondition(a.Condition, a.Statements)
	}
	if err != nil {
		return Append{}, err
	}
	a.Idempotency = p.idem
	return a, nil
}

// Replay answers an append whose idempotency key was used before by the append that
// wrote first (with request hash firstHash): that append's result again, Replayed, for
// the same request; an ECONFLICT for another.
func Replay(first AppendResult, firstHash []byte, idem *Idempotency) (AppendResult, error) {
	out := replayOrConflict(idemRecord{hash: firstHash, result: first}, idem)
	return out.res, out.err
}

// Stale is the ECONFLICT of an append that found stream at version instead of expected;
// its cause is a *StaleError.
func Stale(stream string, version, expected int64) error {
	return staleOutcome(stream, version, expected).err
}

// CheckLimit refuses a read limit outside 1..MaxReadLimit (EINVALID).
func CheckLimit(limit int) error { return checkLimit(limit) }
