package main

// The sequential specification the histories of TestHistoriesAreLinearizable are
// checked against: one versioned register per secret, with a deleted flag.

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/anishathalye/porcupine"
)

// linKind is the operation a client ran on one secret.
type linKind int

const (
	linCreate    linKind = iota // the harness's create, before any client runs
	linRotate                   // POST …/rotate without expectedLatestVersion
	linRotateCAS                // POST …/rotate with expectedLatestVersion
	linRead                     // GET /api/secrets/{id}?deleted=true
	linResolve                  // POST /api/runtime/resolve of the path bound at "latest"
	linDelete                   // DELETE /api/secrets/{id}
	linRestore                  // POST …/restore
)

var linKindNames = [...]string{"create", "rotate", "rotateCAS", "read", "resolve", "delete", "restore"}

func (k linKind) String() string { return linKindNames[k] }

// linInput is an operation as sent. value is the value a create or rotation writes
// (a test value, never a secret of anyone's).
type linInput struct {
	secret   string
	kind     linKind
	expected int // rotateCAS: expectedLatestVersion
	value    string
}

// linOutput is the answer. unknown: the client got no answer it could trust (no
// answer, a timeout, a 503 after which the retries ran out): the operation may have
// taken effect or not, and may have answered anything. Its Return is the end of the
// history, porcupine's convention for an operation that never returned.
type linOutput struct {
	unknown bool
	status  int
	// version: a rotation's new latestVersion (0 when the answer was an idempotent
	// replay, which answers the secret as it is now), a read's latestVersion, a restore's
	// latestVersion, a resolution's manifest version.
	version int
	value   string // a resolution's value
	deleted bool   // a read: deletedAt set; a resolution: outcome secret_deleted
}

// linState is one secret: its latest version, that version's value, and whether it is
// deleted. Comparable, so porcupine's default equality and its cache work on it.
type linState struct {
	latest  int
	value   string
	deleted bool
}

// linModel is the versioned register, partitioned by secret.
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range history {
			s := op.Input.(linInput).secret
			by[s] = append(by[s], op)
		}
		keys := make([]string, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() interface{} { return linState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return linStep(state.(linState), input.(linInput), output.(linOutput))
	},
	DescribeOperation: func(input, output interface{}) string {
		return describeLinOp(input.(linInput), output.(linOutput))
	},
	DescribeState: func(state interface{}) string {
		s := state.(linState)
		return fmt.Sprintf("v%d=%s deleted=%v", s.latest, s.value, s.deleted)
	},
}

// linStep is the register's step: whether the answer out is one the secret in state s
// could give to in, and the state after. The statuses are the API's (docs/secrets.md,
// docs/openapi.yaml): a rotation of a deleted secret is 404, a stale
// expectedLatestVersion 409, deleting a deleted secret 200 and writes nothing, restoring
// a secret that is not deleted 409.
func linStep(s linState, in linInput, out linOutput) (bool, linState) {
	switch in.kind {
	case linCreate:
		return out.unknown || out.status == http.StatusCreated, linState{latest: 1, value: in.value}
	case linRotate, linRotateCAS:
		return rotateStep(s, in, out)
	case linRead:
		return out.unknown || (out.status == http.StatusOK && out.version == s.latest && out.deleted == s.deleted), s
	case linResolve:
		switch {
		case out.unknown:
			return true, s
		case out.status != http.StatusOK:
			return false, s
		case out.deleted:
			return s.deleted, s
		}
		return !s.deleted && out.version == s.latest && out.value == s.value, s
	case linDelete:
		return out.unknown || out.status == http.StatusOK, linState{latest: s.latest, value: s.value, deleted: true}
	case linRestore:
		if out.unknown {
			return true, linState{latest: s.latest, value: s.value}
		}
		switch out.status {
		case http.StatusOK:
			return s.deleted && (out.version == 0 || out.version == s.latest), linState{latest: s.latest, value: s.value}
		case http.StatusConflict:
			return !s.deleted, s
		}
	}
	return false, s
}

func rotateStep(s linState, in linInput, out linOutput) (bool, linState) {
	applies := !s.deleted && (in.kind == linRotate || in.expected == s.latest)
	next := s
	if applies {
		next = linState{latest: s.latest + 1, value: in.value}
	}
	if out.unknown {
		return true, next
	}
	switch out.status {
	case http.StatusOK:
		return applies && (out.version == 0 || out.version == next.latest), next
	case http.StatusNotFound:
		return s.deleted, s
	case http.StatusConflict:
		// A stale expectedLatestVersion; without one, a rotation that lost its race to
		// other writes more often than the command decides again. Neither writes.
		return !s.deleted && (in.kind == linRotate || in.expected != s.latest), s
	}
	return false, s
}

func describeLinOp(in linInput, out linOutput) string {
	var call string
	switch in.kind {
	case linCreate, linRotate:
		call = fmt.Sprintf("%s(%s)", in.kind, in.value)
	case linRotateCAS:
		call = fmt.Sprintf("rotate(expected v%d, %s)", in.expected, in.value)
	default:
		call = in.kind.String() + "()"
	}
	switch {
	case out.unknown:
		return call + " → unknown"
	case out.status != http.StatusOK && out.status != http.StatusCreated:
		return fmt.Sprintf("%s → %d", call, out.status)
	case in.kind == linResolve && out.deleted:
		return call + " → secret_deleted"
	case in.kind == linResolve:
		return fmt.Sprintf("%s → v%d=%s", call, out.version, out.value)
	case in.kind == linRead:
		return fmt.Sprintf("%s → v%d deleted=%v", call, out.version, out.deleted)
	case out.version > 0:
		return fmt.Sprintf("%s → %d v%d", call, out.status, out.version)
	}
	return fmt.Sprintf("%s → %d", call, out.status)
}
