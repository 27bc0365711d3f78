package main

// Checking a recorded history against linModel, and what is printed when it fails.

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// linChecked is what one check found: on a violation, report holds the operations of
// each failing secret around the failure, and visualization the HTML file's path.
type linChecked struct {
	result        porcupine.CheckResult
	partitions    int
	took          time.Duration
	report        string
	visualization string
}

// checkHistory checks history against linModel within timeout; on a violation it
// writes porcupine's visualization into dir.
func checkHistory(history []porcupine.Operation, timeout time.Duration, dir string) (linChecked, error) {
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel, history, timeout)
	c := linChecked{result: res, partitions: len(linModel.Partition(history)), took: time.Since(start)}
	if res != porcupine.Illegal {
		return c, nil
	}
	var b strings.Builder
	for _, part := range linModel.Partition(history) {
		if porcupine.CheckOperationsTimeout(linModel, part, timeout) == porcupine.Illegal {
			fmt.Fprintf(&b, "history of secret %s is not linearizable:\n%s", part[0].Input.(linInput).secret, failingWindow(part))
		}
	}
	c.report = b.String()
	c.visualization = filepath.Join(dir, "history.html")
	return c, porcupine.VisualizePath(linModel, info, c.visualization)
}

// checkLinearizable checks history and fails the test on a violation, with the report
// and the visualization's path, and on Unknown (the check timed out): a history nobody
// could check is not a pass.
func checkLinearizable(t *testing.T, history []porcupine.Operation, timeout time.Duration) linChecked {
	t.Helper()
	c, err := checkHistory(history, timeout, t.TempDir())
	switch {
	case c.result == porcupine.Unknown:
		t.Errorf("the linearizability check of %d operations timed out after %s: not a pass; look at the history", len(history), timeout)
	case c.result == porcupine.Illegal:
		if err != nil {
			t.Logf("visualization: %v", err)
		} else {
			t.Logf("the history, visualized: %s", c.visualization)
		}
		t.Error(c.report)
	}
	return c
}

// failingWindow prints the operations of one illegal partition around the first
// operation that no longest partial linearization reaches.
func failingWindow(part []porcupine.Operation) string {
	_, info := porcupine.CheckOperationsVerbose(linModel, part, 0)
	ops := append([]porcupine.Operation(nil), part...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	longest := 0
	for _, lin := range info.PartialLinearizationsOperations()[0] {
		longest = max(longest, len(lin))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d operations; the longest partial linearization holds %d of them\n", len(ops), longest)
	var lin []porcupine.Operation
	for _, l := range info.PartialLinearizationsOperations()[0] {
		if len(l) == longest {
			lin = l
			break
		}
	}
	in := map[[2]int64]bool{}
	for _, op := range lin {
		in[[2]int64{op.Call, op.Return}] = true
	}
	first := len(ops)
	for i, op := range ops {
		if !in[[2]int64{op.Call, op.Return}] {
			first = i
			break
		}
	}
	if len(lin) > 0 {
		fmt.Fprintf(&b, "the longest partial linearization ends with: %s\n", describeLinOp(lin[len(lin)-1].Input.(linInput), lin[len(lin)-1].Output.(linOutput)))
	}
	for i := max(0, first-12); i < min(len(ops), first+12); i++ {
		op := ops[i]
		mark := "  "
		if i == first {
			mark = "=>"
		}
		ret := fmt.Sprintf("%.3fs", float64(op.Return)/1e9)
		if op.Return == math.MaxInt64 || op.Output.(linOutput).unknown {
			ret = "end"
		}
		fmt.Fprintf(&b, "%s client %2d [%.3fs, %s] %s\n", mark, op.ClientId, float64(op.Call)/1e9, ret,
			describeLinOp(op.Input.(linInput), op.Output.(linOutput)))
	}
	return b.String()
}
