package awssm

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// batchLimit is BatchGetSecretValue's most secrets per call.
const batchLimit = 20

// Resolve implements providers.Provider: GetSecretValue of the exact VersionId, through
// the value cache. An external reference is read by its name or ARN (see resolveExternal).
func (p *Provider) Resolve(ctx context.Context, ref providers.Ref, versionRef string) (providers.Value, error) {
	if ref.ExternalRef != "" {
		ctx, cancel := p.call(ctx)
		defer cancel()
		return p.resolveExternal(ctx, ref.ExternalRef, versionRef)
	}
	name, err := p.target(ref)
	if err != nil {
		return providers.Value{}, err
	}
	if v, ok := p.cache.get(name, versionRef); ok {
		return v, nil
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	return p.get(ctx, name, versionRef)
}

func (p *Provider) get(ctx context.Context, name, versionRef string) (providers.Value, error) {
	if versionRef == "" {
		return providers.Value{}, ledgererr.New(ledgererr.NotFound, "the version has no AWS version id")
	}
	out, err := p.c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(versionRef)})
	if err != nil {
		return providers.Value{}, p.mapError("GetSecretValue", err)
	}
	v := valueOutput(out.SecretString, out.SecretBinary)
	p.cache.put(name, versionRef, v)
	return v, nil
}

// ResolveMany implements providers.BatchResolver. Cached values answer first; the rest
// go to BatchGetSecretValue, 20 secrets a call. That call returns each secret's
// AWSCURRENT version only, so a request for another version (a pinned older one) is
// answered by GetSecretValue of its VersionId, as is every request when the batch call
// is denied (the seed's minimum IAM policy has no BatchGetSecretValue). External
// references are read one by one (resolveExternal).
func (p *Provider) ResolveMany(ctx context.Context, companyID string, reqs []providers.VersionRequest) []providers.Resolved {
	out := make([]providers.Resolved, len(reqs))
	todo := map[string][]int{} // name → indexes still unanswered
	var order []string
	var external []int
	for i, r := range reqs {
		if r.Ref.CompanyID != companyID {
			out[i].Err = ledgererr.New(ledgererr.Forbidden, "the request names another company's secret")
			continue
		}
		if r.Ref.ExternalRef != "" {
			external = append(external, i)
			continue
		}
		name, err := p.target(r.Ref)
		if err != nil {
			out[i].Err = err
			continue
		}
		if v, ok := p.cache.get(name, r.ProviderVersionRef); ok {
			out[i].Value = v
			continue
		}
		if _, seen := todo[name]; !seen {
			order = append(order, name)
		}
		todo[name] = append(todo[name], i)
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	for _, i := range external {
		out[i].Value, out[i].Err = p.resolveExternal(ctx, reqs[i].Ref.ExternalRef, reqs[i].ProviderVersionRef)
	}
	if len(todo) > 1 { // one secret is one GetSecretValue either way
		for chunk := range slices.Chunk(order, batchLimit) {
			p.batch(ctx, chunk, reqs, todo, out)
		}
	}
	for _, name := range order {
		for _, i := range todo[name] {
			out[i].Value, out[i].Err = p.get(ctx, name, reqs[i].ProviderVersionRef)
		}
	}
	return out
}

// batch answers what it can of chunk with one BatchGetSecretValue and removes the
// answered indexes from todo; what stays is read one by one.
func (p *Provider) batch(ctx context.Context, chunk []string, reqs []providers.VersionRequest, todo map[string][]int, out []providers.Resolved) {
	res, err := p.c.sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: chunk})
	if err != nil {
		mapped := p.mapError("BatchGetSecretValue", err)
		if ledgererr.CodeOf(mapped) == ledgererr.Forbidden {
			return // fall back to GetSecretValue, which the minimum policy grants
		}
		for _, name := range chunk {
			for _, i := range todo[name] {
				out[i].Err = mapped
			}
			delete(todo, name)
		}
		return
	}
	byName := map[string]string{} // the ARN or name AWS answered with → our name
	for _, name := range chunk {
		byName[name] = name
	}
	resolve := func(id string) (string, bool) {
		if n, ok := byName[id]; ok {
			return n, true
		}
		for _, name := range chunk { // an ARN: <arn prefix><name>-XXXXXX
			stripped := arnPrefix.ReplaceAllString(id, "")
			if stripped == name || (strings.HasPrefix(stripped, name+"-") && arnSuffix.MatchString(stripped[len(name)+1:])) {
				return name, true
			}
		}
		return "", false
	}
	for _, sv := range res.SecretValues {
		name, ok := resolve(aws.ToString(sv.Name))
		if !ok {
			name, ok = resolve(aws.ToString(sv.ARN))
		}
		if !ok {
			continue
		}
		vid := aws.ToString(sv.VersionId)
		v := valueOutput(sv.SecretString, sv.SecretBinary)
		rest := todo[name][:0]
		for _, i := range todo[name] {
			if reqs[i].ProviderVersionRef == vid {
				out[i].Value = v
				p.cache.put(name, vid, v)
			} else {
				rest = append(rest, i)
			}
		}
		todo[name] = rest
	}
	for _, e := range res.Errors {
		name, ok := resolve(aws.ToString(e.SecretId))
		if !ok {
			continue
		}
		mapped := p.mapCode("BatchGetSecretValue", aws.ToString(e.ErrorCode))
		for _, i := range todo[name] {
			out[i].Err = mapped
		}
		delete(todo, name)
	}
}

func valueOutput(s *string, b []byte) providers.Value {
	if s != nil {
		return providers.NewValue([]byte(*s))
	}
	return providers.NewValue(b)
}
