package eventstore

import "context"

// CommitTogether runs appends in one transaction of the group commit, as if they had
// queued together, and returns each one's answer: what a busy process does, without
// depending on the timing that makes appends share a transaction.
func CommitTogether(s *Store, appends []Append) ([]AppendResult, []error) {
	res, errs := make([]AppendResult, len(appends)), make([]error, len(appends))
	var batch []*queuedAppend
	var at []int
	for i, a := range appends {
		p, err := newPending(a.Idempotency, a.Stream, a.Expected, a.Events)
		if err == nil {
			err = p.setCondition(a.Condition, a.Statements)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		batch = append(batch, &queuedAppend{ctx: context.Background(), p: p, reply: make(chan tryOutcome, 1)})
		at = append(at, i)
	}
	s.commitBatch(batch)
	for j, q := range batch {
		out := <-q.reply
		res[at[j]], errs[at[j]] = out.res, out.err
	}
	return res, errs
}
