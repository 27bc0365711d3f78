package ledgererr

import (
	"errors"
	"fmt"
	"testing"
)

// A reason is found through wrapping, by the nearest error that has one; errors without
// one have none.
func TestReasonOf(t *testing.T) {
	t.Parallel()
	refusal := WithReason(Invalid, "external_prefix_not_approved", "%q is not approved", "prod/x")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), ""},
		{New(Invalid, "no reason"), ""},
		{refusal, "external_prefix_not_approved"},
		{fmt.Errorf("commands: %w", refusal), "external_prefix_not_approved"},
		{Wrap(refusal, Unavailable, "outer"), "external_prefix_not_approved"},
		{&Error{Code: Invalid, Reason: "outer", Cause: refusal}, "outer"},
	} {
		if got := ReasonOf(tc.err); got != tc.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if CodeOf(refusal) != Invalid || MessageOf(refusal) != `"prod/x" is not approved` {
		t.Fatalf("code %s message %q", CodeOf(refusal), MessageOf(refusal))
	}
}
