package commands

import "testing"

// Every fold handles or explicitly ignores every registered event type of the streams
// it reads: registering a type makes this fail until each fold of its stream decides.
func TestFoldsAreExhaustive(t *testing.T) {
	t.Parallel()
	for _, r := range Folds() {
		for _, problem := range r.Unhandled() {
			t.Error(problem)
		}
	}
}
