package projections_test

import (
	"testing"

	"github.com/secretsledger/secretsledger/projections"
)

// Every projection reads the whole log, so it handles or explicitly ignores every
// registered event type: registering a type makes this fail until each decides.
func TestProjectionsAreExhaustive(t *testing.T) {
	t.Parallel()
	for _, p := range projections.All() {
		for _, problem := range p.Reader().Unhandled() {
			t.Error(problem)
		}
	}
}
