package awssm_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
	"github.com/secretsledger/secretsledger/providers/providertest"
)

// fingerprint stands for the ledger's: a keyed HMAC with a key per company.
func fingerprint(company string, v providers.Value) string {
	m := hmac.New(sha256.New, []byte("test fingerprint key of "+company))
	m.Write(v.Reveal())
	return hex.EncodeToString(m.Sum(nil))
}

type env struct {
	fake *awsfake.Server
	p    *awssm.Provider
	cfg  awssm.Config
	opts []awssm.Option
	logs *providertest.LogBuffer
}

var staticCreds = credentials.NewStaticCredentialsProvider("AKIDTESTFAKE", "fake-secret-access-key", "")

func newEnv(t *testing.T, edit func(*awssm.Config), opts ...awssm.Option) *env {
	t.Helper()
	fake := awsfake.New(t, "us-east-1")
	logs := &providertest.LogBuffer{}
	cfg := awssm.Config{Region: "us-east-1", Endpoint: fake.URL, DeploymentID: "dep-test",
		KMSKeyID: "arn:aws:kms:us-east-1:123456789012:key/test-key", Environment: "test", CacheTTL: time.Minute,
		Log: slog.New(slog.NewTextHandler(logs, nil)), Fingerprint: fingerprint}
	if edit != nil {
		edit(&cfg)
	}
	base := []awssm.Option{awssm.WithCredentials(staticCreds), awssm.WithRetry(2, 5*time.Millisecond),
		awssm.WithCommitRetry(10*time.Millisecond, 50), awssm.WithGetenv(func(string) string { return "" })}
	e := &env{fake: fake, cfg: cfg, opts: append(base, opts...), logs: logs}
	e.p = e.newProvider(t)
	return e
}

// newProvider is another provider on the same fake and configuration (a second ledger
// process, or a cold cache).
func (e *env) newProvider(t *testing.T) *awssm.Provider {
	t.Helper()
	p, err := awssm.New(context.Background(), e.cfg, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

var refSeq atomic.Int64

func newRef(key string) providers.Ref {
	return providers.Ref{CompanyID: "co-1", SecretID: fmt.Sprintf("01HSECRET%017d", refSeq.Add(1)), Version: 1, Key: key}
}

func at(r providers.Ref, v int) providers.Ref { r.Version = v; return r }

func val(s string) providers.Value { return providers.NewValue([]byte(s)) }

func mustPut(t *testing.T, p *awssm.Provider, r providers.Ref, v string) providers.Stored {
	t.Helper()
	s, err := p.Put(context.Background(), r, val(v))
	if err != nil {
		t.Fatalf("Put v%d: %v", r.Version, err)
	}
	return s
}

func mustResolve(t *testing.T, p *awssm.Provider, r providers.Ref, vref, want string) {
	t.Helper()
	v, err := p.Resolve(context.Background(), r, vref)
	if err != nil || string(v.Reveal()) != want {
		t.Fatalf("Resolve v%d = %d bytes, %v", r.Version, v.Len(), err)
	}
}

// safe checks a provider error: its ledgererr and provider codes, and a safe message
// without ARN, account, request id or AWS's own message.
func safe(t *testing.T, err error, code ledgererr.Code, providerCode string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s/%s", code, providerCode)
	}
	if ledgererr.CodeOf(err) != code || awssm.ProviderCodeOf(err) != providerCode {
		t.Fatalf("err = %v (codes %s/%s), want %s/%s", err, ledgererr.CodeOf(err), awssm.ProviderCodeOf(err), code, providerCode)
	}
	msg := ledgererr.MessageOf(err)
	for _, leak := range []string{"arn:", awsfake.Account, "fake-request-id", "injected", "Rate exceeded", "Secrets Manager can't", "marked for deletion"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("safe message %q holds %q", msg, leak)
		}
	}
	// The cause (which the HTTP layer may log) carries no AWS message either.
	if strings.Contains(err.Error(), "arn:") || strings.Contains(err.Error(), "fake-request-id") {
		t.Fatalf("error chain holds AWS details: %v", err)
	}
}
