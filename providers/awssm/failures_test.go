package awssm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

func TestThrottlingIsRetriedThenSurfacedAs429(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *awssm.Config) { c.CacheTTL = 0 })
	r := newRef("throttled")
	s := mustPut(t, e.p, r, "v")
	e.fake.Inject("GetSecretValue", awsfake.Throttling(), 2)
	_, err := e.p.Resolve(context.Background(), r, s.ProviderVersionRef)
	safe(t, err, ledgererr.TooManyRequests, awssm.CodeThrottled)
	if n := e.fake.Calls("GetSecretValue"); n != 2 {
		t.Fatalf("GetSecretValue reached the fake %d times, want 2 (the retryer's attempts)", n)
	}
	// Throttling that ends within the attempts is invisible.
	e.fake.Inject("GetSecretValue", awsfake.Throttling(), 1)
	mustResolve(t, e.p, r, s.ProviderVersionRef, "v")
	if !strings.Contains(e.logs.String(), "op=GetSecretValue") || !strings.Contains(e.logs.String(), "ThrottlingException") {
		t.Fatalf("the raw error was not logged with its operation: %s", e.logs.String())
	}
}

func TestServiceErrorsAndTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *awssm.Config) { c.CacheTTL = 0 }, awssm.WithCallTimeout(300*time.Millisecond))
	r := newRef("unavailable")
	s := mustPut(t, e.p, r, "v")
	e.fake.Inject("GetSecretValue", awsfake.ServiceError(), 2)
	_, err := e.p.Resolve(context.Background(), r, s.ProviderVersionRef)
	safe(t, err, ledgererr.Unavailable, awssm.CodeProviderUnavailable)

	e.fake.Inject("GetSecretValue", awsfake.Slow(time.Second), 1)
	start := time.Now()
	_, err = e.p.Resolve(context.Background(), r, s.ProviderVersionRef)
	safe(t, err, ledgererr.Unavailable, awssm.CodeProviderUnavailable)
	if time.Since(start) > 900*time.Millisecond {
		t.Fatalf("the call timeout did not bound the call: %s", time.Since(start))
	}
}

// Every AWS error code the provider knows, decoded by the real SDK from the fake's
// answer, maps to its codes with a fixed safe message.
func TestErrorMappingThroughTheSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *awssm.Config) { c.CacheTTL = 0 }, awssm.WithRetry(1, time.Millisecond))
	r := newRef("mapped")
	s := mustPut(t, e.p, r, "v")
	messages := map[string]string{}
	for _, tc := range []struct {
		aws      string
		code     ledgererr.Code
		provider string
	}{
		{"AccessDeniedException", ledgererr.Forbidden, awssm.CodeAccessDenied},
		{"UnrecognizedClientException", ledgererr.Forbidden, awssm.CodeAccessDenied},
		{"ThrottlingException", ledgererr.TooManyRequests, awssm.CodeThrottled},
		{"ResourceNotFoundException", ledgererr.NotFound, awssm.CodeNotFound},
		{"ResourceExistsException", ledgererr.Conflict, awssm.CodeConflict},
		{"InvalidRequestException", ledgererr.Invalid, awssm.CodeInvalidRequest},
		{"InvalidParameterException", ledgererr.Invalid, awssm.CodeInvalidRequest},
		{"LimitExceededException", ledgererr.Invalid, awssm.CodeInvalidRequest},
		{"DecryptionFailure", ledgererr.BadGateway, awssm.CodeProviderError},
		{"InternalServiceError", ledgererr.Unavailable, awssm.CodeProviderUnavailable},
		{"SomethingAWSAddsLater", ledgererr.BadGateway, awssm.CodeProviderError},
	} {
		e.fake.Inject("GetSecretValue", awsfake.Error(tc.aws), 1)
		_, err := e.p.Resolve(context.Background(), r, s.ProviderVersionRef)
		safe(t, err, tc.code, tc.provider)
		msg := ledgererr.MessageOf(err)
		if !strings.HasPrefix(msg, "aws_secrets_manager "+tc.provider+": ") {
			t.Errorf("%s: message %q does not name its provider code", tc.aws, msg)
		}
		messages[msg] = tc.aws
	}
	if len(messages) < 7 {
		t.Fatalf("only %d distinct messages for the classes: %v", len(messages), messages)
	}
	if !strings.Contains(e.logs.String(), "arn:aws:secretsmanager") {
		t.Fatal("the raw AWS error (with its ARN) did not reach the injected logger")
	}
}

func TestFailedCommitIsRetriedInTheBackground(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	r := newRef("commit-retry")
	name := e.p.Name(r)
	s1 := mustPut(t, e.p, r, "one")
	s2 := mustPut(t, e.p, at(r, 2), "two")
	e.fake.Inject("UpdateSecretVersionStage", awsfake.ServiceError(), 2) // both SDK attempts
	err := e.p.Commit(ctx, at(r, 2), s2.ProviderVersionRef)
	safe(t, err, ledgererr.Unavailable, awssm.CodeProviderUnavailable)
	if e.fake.CurrentVersion(name) != s1.ProviderVersionRef {
		t.Fatal("AWSCURRENT moved although the commit failed")
	}
	mustResolve(t, e.newProvider(t), at(r, 2), s2.ProviderVersionRef, "two") // resolution does not care
	deadline := time.Now().Add(10 * time.Second)
	for e.fake.CurrentVersion(name) != s2.ProviderVersionRef || len(e.fake.Stages(name)[s2.ProviderVersionRef]) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the background retry did not commit: %v", e.fake.Stages(name))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
