package awssm

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Bounds of the tag check of external references.
const (
	// TagCheckTTL is the longest the answer of one DescribeSecret tag check is kept
	// (Config.CacheTTL when shorter; 0 keeps none): a managed-by tag added at AWS later
	// stops the reference within about this long.
	TagCheckTTL = time.Minute
	// TagCheckCacheSize bounds the answers kept per provider instance (least recently
	// used first out); a reference whose answer was evicted is described again.
	TagCheckCacheSize = 4096
)

// ManagedByLedger reports whether the secret an external reference names carries the
// ledger's managed-by tag (TagManagedBy, whatever its value): every secret the ledger
// writes carries it, so such a secret is the ledger's own, whoever names it. The tags
// are read with DescribeSecret (metadata only, never a value; IAM
// secretsmanager:DescribeSecret) and the answer is cached (TagCheckTTL). A secret
// that does not exist is not managed (nothing can be read from it); any other failure
// is the mapped AWS error, and the caller refuses the reference.
func (p *Provider) ManagedByLedger(ctx context.Context, externalRef string) (bool, error) {
	externalRef = strings.TrimSpace(externalRef)
	if managed, ok := p.tagChecks.Get(externalRef); ok {
		return managed, nil
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	out, err := p.c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(externalRef)})
	if err != nil {
		mapped := p.mapError("DescribeSecret", err)
		if ledgererr.CodeOf(mapped) == ledgererr.NotFound {
			p.tagChecks.Put(externalRef, false)
			return false, nil
		}
		return false, mapped
	}
	managed := hasManagedTag(out.Tags)
	p.tagChecks.Put(externalRef, managed)
	return managed, nil
}

// hasManagedTag reports whether tags hold TagManagedBy.
func hasManagedTag(tags []types.Tag) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == TagManagedBy {
			return true
		}
	}
	return false
}
