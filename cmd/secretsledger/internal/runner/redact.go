package runner

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/secretsledger/secretsledger/agent"
	"github.com/secretsledger/secretsledger/providers/redact"
)

// redactWrap masks the values of the resolution in what COMMAND writes (run --redact),
// each as [REDACTED:key]. A value shorter than redact.MinLength is not masked (masking
// "1" would corrupt output); run says which on its own stderr, by key, and the manifest
// says so per entry.
func redactWrap(secrets []Secret, stdout, stderr io.Writer) (io.Writer, io.Writer, func() error, error) {
	r := agent.NewRedactor(secrets, redact.Options{})
	if skipped := r.Skipped(); len(skipped) > 0 {
		fmt.Fprintf(stderr, "run: not masked (%s): %s\n", maskSkipped, strings.Join(skipped, ", "))
	}
	out, errOut := r.Writer(stdout), r.Writer(stderr)
	return out, errOut, func() error { return errors.Join(out.Close(), errOut.Close()) }, nil
}

// maskSkipped is why a value is not masked, in the manifest and on run's stderr.
var maskSkipped = fmt.Sprintf("shorter than %d bytes", redact.MinLength)

// masked says whether value is masked under --redact, and why not.
func masked(value string) (bool, string) {
	if len(value) < redact.MinLength {
		return false, maskSkipped
	}
	return true, ""
}
