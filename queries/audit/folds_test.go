package audit_test

import (
	"testing"

	"github.com/secretsledger/secretsledger/queries/audit"
)

// Every audit fold handles or explicitly ignores every registered event type of the
// streams it reads: registering a type makes this fail until each fold decides.
func TestFoldsAreExhaustive(t *testing.T) {
	t.Parallel()
	for _, r := range audit.Folds() {
		for _, problem := range r.Unhandled() {
			t.Error(problem)
		}
	}
}
