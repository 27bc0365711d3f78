package vaultkv

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

func TestLiveAbove(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	meta := func(current int, vs map[string]kvVersMeta) kvMetadata {
		return kvMetadata{CurrentVersion: current, Versions: vs}
	}
	for name, tc := range map[string]struct {
		m        kvMetadata
		expected int
		live     []int
		known    bool
	}{
		"discards only":        {meta(3, map[string]kvVersMeta{"1": {}, "2": {Destroyed: true}, "3": {Destroyed: true}}), 1, nil, true},
		"one retried":          {meta(2, map[string]kvVersMeta{"1": {}, "2": {}}), 1, []int{2}, true},
		"discard then retried": {meta(3, map[string]kvVersMeta{"1": {}, "2": {Destroyed: true}, "3": {}}), 1, []int{3}, true},
		"two writers":          {meta(3, map[string]kvVersMeta{"1": {}, "2": {}, "3": {}}), 1, []int{2, 3}, true},
		"soft-deleted above":   {meta(2, map[string]kvVersMeta{"1": {}, "2": {DeletionTime: past}}), 1, nil, false},
		"scheduled deletion":   {meta(2, map[string]kvVersMeta{"1": {}, "2": {DeletionTime: future}}), 1, []int{2}, true},
		"pruned":               {meta(20, map[string]kvVersMeta{"19": {}, "20": {}}), 1, nil, false},
		"current below":        {meta(1, map[string]kvVersMeta{"1": {}}), 3, nil, false},
		"recreated path":       {meta(2, map[string]kvVersMeta{"2": {}}), 0, nil, false},
	} {
		live, known := liveAbove(tc.m, tc.expected)
		if fmt.Sprint(live) != fmt.Sprint(tc.live) || known != tc.known {
			t.Errorf("%s: %v %v, want %v %v", name, live, known, tc.live, tc.known)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code string
	}{
		{&api.ResponseError{StatusCode: 400, Errors: []string{"check-and-set parameter did not match the current version"}}, CodeConflict},
		{&api.ResponseError{StatusCode: 400, Errors: []string{"no data provided"}}, CodeInvalidRequest},
		{&api.ResponseError{StatusCode: 403, Errors: []string{"permission denied"}}, CodeAccessDenied},
		{&api.ResponseError{StatusCode: 404}, CodeNotFound},
		{&api.ResponseError{StatusCode: 405}, CodeInvalidRequest},
		{&api.ResponseError{StatusCode: 412}, CodeProviderUnavailable},
		{&api.ResponseError{StatusCode: 429}, CodeThrottled},
		{&api.ResponseError{StatusCode: 418}, CodeProviderError},
		{&api.ResponseError{StatusCode: 500}, CodeProviderUnavailable},
		{&api.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}, CodeProviderUnavailable},
		{fmt.Errorf("wrapped: %w", errors.New("json: bad")), CodeProviderError},
	} {
		if m, _ := classify(tc.err); m.provider != tc.code {
			t.Errorf("classify(%v) = %s, want %s", tc.err, m.provider, tc.code)
		}
	}
}

func TestExternalValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"value": "v", "other": "o"}, "v"},
		{map[string]any{"only": "o"}, "o"},
		{map[string]any{"only": true}, `{"only":true}`},
		{map[string]any{"a": "1", "b": "<2>"}, `{"a":"1","b":"<2>"}`},
		{map[string]any{}, `{}`},
	} {
		v, err := externalValue(tc.data)
		if err != nil || string(v.Reveal()) != tc.want {
			t.Errorf("externalValue(%v) = %q, %v; want %q", tc.data, v.Reveal(), err, tc.want)
		}
	}
}

func TestWalkerPassed(t *testing.T) {
	t.Parallel()
	w := &walker{after: "apps/b/c"}
	for path, want := range map[string]bool{"apps/a": true, "apps/b/c": true, "apps/b/b": true, "apps/b/d": false, "apps/c": false} {
		if w.passedFile(path) != want {
			t.Errorf("after %q, passedFile(%q) != %v", w.after, path, want)
		}
	}
	for dir, want := range map[string]bool{"apps/a/": true, "apps/b/": false, "apps/": false, "apps/c/": false, "apps/b/c/": false} {
		if w.passedDir(dir) != want {
			t.Errorf("after %q, passedDir(%q) != %v", w.after, dir, want)
		}
	}
	w.after = "apps/b/" // a folder passed as a whole
	for path, want := range map[string]bool{"apps/b/zz": true, "apps/b": true, "apps/b-x": true, "apps/ba": false} {
		if w.passedFile(path) != want {
			t.Errorf("after %q, passedFile(%q) != %v", w.after, path, want)
		}
	}
	for dir, want := range map[string]bool{"apps/b/": true, "apps/b/x/": true, "apps/": false, "apps/c/": false} {
		if w.passedDir(dir) != want {
			t.Errorf("after %q, passedDir(%q) != %v", w.after, dir, want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := listCursor{Prefix: 2, After: "apps/b/"}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || got != c {
		t.Fatalf("round trip %+v, %v", got, err)
	}
	for _, bad := range []listCursor{{Prefix: -1}, {After: "../x"}, {After: "a//b"}} {
		if _, err := decodeCursor(encodeCursor(bad)); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("cursor %+v: %v", bad, err)
		}
	}
}
