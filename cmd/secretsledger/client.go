package main

import (
	"context"
	"errors"
)

// runSecretsClient is filled in below.
func runSecretsClient(_ context.Context, _ *environment, _ []string) error {
	return usageError{errors.New("want `secretsledger secrets rekey`")}
}
