package awssm

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Bounds of one inventory page.
const (
	// MaxListPageSize is ListSecrets' largest MaxResults.
	MaxListPageSize = 100
	// MaxListQuery bounds the search text of an inventory page.
	MaxListQuery = 200
	// MaxNextToken bounds the opaque cursor a client hands back.
	MaxNextToken = 4096
)

// List reads one page of the account's and Region's inventory with one ListSecrets call
// (metadata only: this never reads a value, and needs no KMS permission). query, when
// given, is AWS's "all" filter (name, description, tag keys and values); secrets
// scheduled for deletion are left out. The answer keeps an allowlist of metadata: no
// ARN (it names the account), tag values, KMS key ids, descriptions, rotation or
// replication ARNs. A secret's reference is its name, which the provider resolves in its
// own account and Region as the ARN would.
func (p *Provider) List(ctx context.Context, query, nextToken string, pageSize int) (providers.RemotePage, error) {
	query = strings.TrimSpace(query)
	switch {
	case pageSize < 1 || pageSize > MaxListPageSize:
		return providers.RemotePage{}, ledgererr.New(ledgererr.Invalid, "pageSize must be 1 to %d", MaxListPageSize)
	case len(query) > MaxListQuery:
		return providers.RemotePage{}, ledgererr.New(ledgererr.Invalid, "query is longer than %d characters", MaxListQuery)
	case len(nextToken) > MaxNextToken:
		return providers.RemotePage{}, ledgererr.New(ledgererr.Invalid, "nextToken is longer than %d characters", MaxNextToken)
	}
	in := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(int32(pageSize)), IncludePlannedDeletion: aws.Bool(false)}
	if nextToken != "" {
		in.NextToken = aws.String(nextToken)
	}
	if query != "" {
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeAll, Values: []string{query}}}
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	out, err := p.c.sm.ListSecrets(ctx, in)
	if err != nil {
		return providers.RemotePage{}, p.mapListError(err)
	}
	page := providers.RemotePage{NextToken: aws.ToString(out.NextToken), Secrets: make([]providers.RemoteSecret, 0, len(out.SecretList))}
	for _, e := range out.SecretList {
		name := aws.ToString(e.Name)
		page.Secrets = append(page.Secrets, providers.RemoteSecret{
			Ref: name, Name: name, Managed: hasManagedTag(e.Tags),
			CreatedDate: utc(e.CreatedDate), LastAccessedDate: utc(e.LastAccessedDate), LastChangedDate: utc(e.LastChangedDate),
			DeletedDate: utc(e.DeletedDate), HasDescription: aws.ToString(e.Description) != "",
			HasKMSKey: aws.ToString(e.KmsKeyId) != "", TagCount: len(e.Tags),
		})
	}
	return page, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
