package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// linOp is an operation of a hand-made history on secret "s".
func linOp(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
	in.secret = "s"
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

var linCreated = linOp(0, 0, 1, linInput{kind: linCreate, value: "a"}, linOutput{status: http.StatusCreated})

// The checker can fail: a read of v1 after an acknowledged rotation to v2 completed,
// and a resolution returning another value than the one its version was written with,
// are rejected; the same histories with the read inside the rotation, or the right
// value, are accepted.
func TestPorcupineRejectsWhatNoOrderExplains(t *testing.T) {
	rotated := linOp(1, 10, 20, linInput{kind: linRotateCAS, expected: 1, value: "b"}, linOutput{status: http.StatusOK, version: 2})
	cases := []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"a read of v1 after the rotation to v2 was acknowledged", []porcupine.Operation{linCreated, rotated,
			linOp(2, 21, 22, linInput{kind: linRead}, linOutput{status: http.StatusOK, version: 1})}, porcupine.Illegal},
		{"a read of v1 while the rotation runs", []porcupine.Operation{linCreated, rotated,
			linOp(2, 15, 22, linInput{kind: linRead}, linOutput{status: http.StatusOK, version: 1})}, porcupine.Ok},
		{"a resolution of v2 with v1's value", []porcupine.Operation{linCreated, rotated,
			linOp(2, 21, 22, linInput{kind: linResolve}, linOutput{status: http.StatusOK, version: 2, value: "a"})}, porcupine.Illegal},
		{"a resolution of v2 with its value", []porcupine.Operation{linCreated, rotated,
			linOp(2, 21, 22, linInput{kind: linResolve}, linOutput{status: http.StatusOK, version: 2, value: "b"})}, porcupine.Ok},
		{"two compare-and-sets from v1 both acknowledged", []porcupine.Operation{linCreated, rotated,
			linOp(2, 12, 18, linInput{kind: linRotateCAS, expected: 1, value: "c"}, linOutput{status: http.StatusOK, version: 2})}, porcupine.Illegal},
		{"a compare-and-set from v1 refused while the other runs", []porcupine.Operation{linCreated, rotated,
			linOp(2, 12, 18, linInput{kind: linRotateCAS, expected: 1, value: "c"}, linOutput{status: http.StatusConflict})}, porcupine.Ok},
		{"a rotation of a deleted secret acknowledged", []porcupine.Operation{linCreated,
			linOp(1, 10, 20, linInput{kind: linDelete}, linOutput{status: http.StatusOK}),
			linOp(2, 21, 22, linInput{kind: linRotate, value: "c"}, linOutput{status: http.StatusOK, version: 2})}, porcupine.Illegal},
		{"a resolution refused as deleted after the restore", []porcupine.Operation{linCreated,
			linOp(1, 10, 20, linInput{kind: linDelete}, linOutput{status: http.StatusOK}),
			linOp(1, 21, 30, linInput{kind: linRestore}, linOutput{status: http.StatusOK, version: 1}),
			linOp(2, 31, 32, linInput{kind: linResolve}, linOutput{status: http.StatusOK, deleted: true})}, porcupine.Illegal},
		// An unknown outcome may take effect at any time after its call, or never.
		{"a rotation with an unknown outcome, seen later", []porcupine.Operation{linCreated,
			linOp(1, 10, 100, linInput{kind: linRotate, value: "b"}, linOutput{unknown: true}),
			linOp(2, 50, 51, linInput{kind: linRead}, linOutput{status: http.StatusOK, version: 1}),
			linOp(2, 60, 61, linInput{kind: linResolve}, linOutput{status: http.StatusOK, version: 2, value: "b"})}, porcupine.Ok},
		{"a rotation with an unknown outcome, never seen", []porcupine.Operation{linCreated,
			linOp(1, 10, 100, linInput{kind: linRotate, value: "b"}, linOutput{unknown: true}),
			linOp(2, 60, 61, linInput{kind: linRead}, linOutput{status: http.StatusOK, version: 1})}, porcupine.Ok},
		{"a rotation with an unknown outcome seen before it was sent", []porcupine.Operation{linCreated,
			linOp(2, 5, 6, linInput{kind: linResolve}, linOutput{status: http.StatusOK, version: 2, value: "b"}),
			linOp(1, 10, 100, linInput{kind: linRotate, value: "b"}, linOutput{unknown: true})}, porcupine.Illegal},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperationsTimeout(linModel, c.history, 10*time.Second); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// What a violation shows: the failing secret's operations around the read that no
// order explains, marked, and porcupine's visualization in an HTML file.
func TestPorcupineViolationReport(t *testing.T) {
	history := []porcupine.Operation{linCreated,
		linOp(1, 10, 20, linInput{kind: linRotateCAS, expected: 1, value: "b"}, linOutput{status: http.StatusOK, version: 2}),
		linOp(2, 21, 22, linInput{kind: linRead}, linOutput{status: http.StatusOK, version: 1})}
	c, err := checkHistory(history, 10*time.Second, t.TempDir())
	if err != nil || c.result != porcupine.Illegal {
		t.Fatalf("%s, %v; want Illegal", c.result, err)
	}
	if !strings.Contains(c.report, "history of secret s is not linearizable") ||
		!strings.Contains(c.report, "=> client  2") || !strings.Contains(c.report, "read() → v1 deleted=false") {
		t.Errorf("the report does not show the failing read:\n%s", c.report)
	}
	if fi, err := os.Stat(c.visualization); err != nil || fi.Size() == 0 {
		t.Errorf("visualization %s: %v", c.visualization, err)
	}
}
