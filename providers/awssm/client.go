package awssm

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// options are the knobs of New. The binary sets only WithGetenv; WithCredentials and
// WithRetry are for tests against the fake, of this package and of its callers (so
// they are exported here, not in export_test.go).
type options struct {
	maxAttempts   int           // the standard retryer's attempts (SDK default 3)
	maxBackoff    time.Duration // the standard retryer's longest backoff (SDK default 20 s)
	callTimeout   time.Duration // one provider call, retries included
	credentials   aws.CredentialsProvider
	commitBackoff time.Duration // first delay of a failed Commit's retry
	commitTries   int
	getenv        func(string) string
}

// Option changes a default of New.
type Option func(*options)

// WithRetry sets the SDK retryer's attempts and longest backoff.
func WithRetry(maxAttempts int, maxBackoff time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.maxBackoff = maxAttempts, maxBackoff }
}

// WithCredentials replaces the default credential chain (tests, with static
// credentials against a fake). Providers built with the same Option value share a
// client; each call of WithCredentials is a credential source of its own.
func WithCredentials(p aws.CredentialsProvider) Option {
	cache := aws.NewCredentialsCache(p)
	return func(o *options) { o.credentials = cache }
}

// WithGetenv replaces os.Getenv for the health check's credential-source detection.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// clientKey identifies a shared client: vaults in the same region and endpoint, with the
// same retry settings and credentials, share one.
type clientKey struct {
	region, endpoint string
	attempts         int
	backoff          time.Duration
	creds            aws.CredentialsProvider
}

type client struct {
	sm    *secretsmanager.Client
	creds aws.CredentialsProvider
}

var clients = struct {
	sync.Mutex
	m map[clientKey]*client
}{m: map[clientKey]*client{}}

// sharedClient returns the client for (region, endpoint, options), creating it once.
// Credentials providers of a type that cannot be a map key get a client of their own.
func sharedClient(ctx context.Context, region, endpoint string, o options) (*client, error) {
	key := clientKey{region: region, endpoint: endpoint, attempts: o.maxAttempts, backoff: o.maxBackoff, creds: o.credentials}
	cacheable := o.credentials == nil || reflect.TypeOf(o.credentials).Comparable()
	if cacheable {
		clients.Lock()
		defer clients.Unlock()
		if c, ok := clients.m[key]; ok {
			return c, nil
		}
	}
	loaders := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				if o.maxAttempts > 0 {
					so.MaxAttempts = o.maxAttempts
				}
				if o.maxBackoff > 0 {
					so.MaxBackoff = o.maxBackoff
				}
			})
		}),
	}
	if o.credentials != nil {
		loaders = append(loaders, awsconfig.WithCredentialsProvider(o.credentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return nil, fmt.Errorf("awssm: load the AWS SDK configuration: %w", err)
	}
	sm := secretsmanager.NewFromConfig(cfg, func(so *secretsmanager.Options) {
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
	})
	c := &client{sm: sm, creds: cfg.Credentials}
	if cacheable {
		clients.m[key] = c
	}
	return c, nil
}
