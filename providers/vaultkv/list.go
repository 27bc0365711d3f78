package vaultkv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Bounds of one inventory page.
const (
	// MaxListPageSize is the largest page.
	MaxListPageSize = 100
	// MaxListQuery bounds the search text of an inventory page.
	MaxListQuery = 200
	// MaxNextToken bounds the opaque cursor a client hands back.
	MaxNextToken = 4096
	// MaxListCallsPerPage bounds the LIST calls of one page: a page whose budget runs out
	// comes back short, with a NextToken to go on from.
	MaxListCallsPerPage = 200
	// MaxMetadataReadsPerPage bounds the metadata reads of one page: a secret listed but
	// gone by the time its metadata is read is left out and does not fill the page, so
	// pageSize alone does not bound them.
	MaxMetadataReadsPerPage = 2 * MaxListPageSize
)

// AllPrefixes, as an approved prefix of ListUnder, is the whole mount.
const AllPrefixes = "*"

var mapStaleCursor = mapping{ledgererr.Invalid, CodeInvalidRequest,
	"the listing cursor (nextToken) is invalid or stale; refresh the preview and discard the old nextToken"}

// listCursor is what a NextToken holds: the index of the prefix the walk is in, and the
// last path it passed (a path ending in "/" is a directory passed as a whole).
type listCursor struct {
	Prefix int    `json:"p"`
	After  string `json:"a"`
}

// List reads one page of the whole mount's inventory (ListUnder of AllPrefixes).
func (p *Provider) List(ctx context.Context, query, nextToken string, pageSize int) (providers.RemotePage, error) {
	return p.ListUnder(ctx, []string{AllPrefixes}, nil, query, nextToken, pageSize)
}

// ListUnder reads one page of the inventory under prefixes: approved prefixes in
// RefName form ("[<ns>/]<mount>/<path prefix>", or AllPrefixes), of which those of this
// provider's namespace and mount count. It walks LIST <mount>/metadata/ recursively in
// sorted order from the directory of each prefix, keeps the paths that start with the
// prefix (never the managed root) and whose path holds query (case-insensitive), and
// reads each kept secret's metadata: never its data. The answer keeps an allowlist of
// metadata: no custom metadata values. exclude are managed roots of the instance in the
// same RefName form (other vaults', the deployment's): the walk goes into none of them,
// so that neither a page nor its NextToken (the company's operator holds it) names a
// path under them. A page holds at most pageSize secrets and costs at most
// MaxListCallsPerPage LIST calls and MaxMetadataReadsPerPage metadata reads.
func (p *Provider) ListUnder(ctx context.Context, prefixes, exclude []string, query, nextToken string, pageSize int) (providers.RemotePage, error) {
	query = strings.TrimSpace(query)
	switch {
	case pageSize < 1 || pageSize > MaxListPageSize:
		return providers.RemotePage{}, invalid("pageSize must be 1 to %d", MaxListPageSize)
	case len(query) > MaxListQuery:
		return providers.RemotePage{}, invalid("query is longer than %d characters", MaxListQuery)
	}
	cur, err := decodeCursor(nextToken)
	if err != nil {
		return providers.RemotePage{}, err
	}
	roots := p.listRoots(prefixes)
	if nextToken != "" && cur.Prefix >= len(roots) {
		return providers.RemotePage{}, wrapMapping("metadata.list", mapStaleCursor, 0, mapStaleCursor.message)
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return providers.RemotePage{}, err
	}
	defer cancel()
	w := &walker{p: p, c: c, ctx: ctx, budget: MaxListCallsPerPage, reads: MaxMetadataReadsPerPage, limit: pageSize,
		query: strings.ToLower(query),
		skip:  p.skippedRoots(exclude), page: []providers.RemoteSecret{}}
	for i := cur.Prefix; i < len(roots); i++ {
		w.prefix, w.after = roots[i], ""
		if i == cur.Prefix {
			w.after = cur.After
		}
		dir := roots[i][:strings.LastIndexByte(roots[i], '/')+1]
		if w.skipped(dir) {
			continue
		}
		stop, err := w.walk(dir)
		if err != nil {
			return providers.RemotePage{}, p.listError(err)
		}
		if stop {
			if w.out && len(w.page) == 0 && i == cur.Prefix && w.after == cur.After {
				return providers.RemotePage{}, providerErr("metadata.list", mapInvalid, 0,
					"the KV tree under an approved prefix is too deep to list within one page's budget")
			}
			return providers.RemotePage{Secrets: w.page, NextToken: encodeCursor(listCursor{Prefix: i, After: w.after})}, nil
		}
	}
	return providers.RemotePage{Secrets: w.page}, nil
}

// skippedRoots are the directories inside the mount a walk never enters: the
// provider's managed root and each of exclude (RefName form) in its namespace and mount.
func (p *Provider) skippedRoots(exclude []string) []string {
	base := RefName(p.cfg.Namespace, p.cfg.Mount, "")
	skip := []string{ManagedRoot(p.cfg.Prefix, p.cfg.DeploymentID)}
	for _, ex := range exclude {
		if dir := strings.TrimPrefix(ex, base); dir != ex && dir != "" {
			if !strings.HasSuffix(dir, "/") {
				dir += "/"
			}
			skip = append(skip, dir)
		}
	}
	return skip
}

// skipped reports whether path lies under a root the walk never enters.
func (w *walker) skipped(path string) bool {
	for _, root := range w.skip {
		if strings.HasPrefix(path, root) {
			return true
		}
	}
	return false
}

// listRoots returns the path prefixes inside the mount that prefixes approve, sorted,
// without one that another covers.
func (p *Provider) listRoots(prefixes []string) []string {
	base := RefName(p.cfg.Namespace, p.cfg.Mount, "")
	var all []string
	for _, pr := range prefixes {
		pr = strings.TrimSpace(pr)
		switch {
		case pr == AllPrefixes:
			all = append(all, "")
		case strings.HasPrefix(pr, base):
			root := strings.TrimPrefix(pr, base)
			dir := strings.TrimSuffix(root[:strings.LastIndexByte(root, '/')+1], "/")
			if dir == "" || CheckPath(dir, MaxPathLength) == "" {
				all = append(all, root)
			}
		}
	}
	sort.Strings(all)
	var roots []string
	for _, r := range all {
		if len(roots) == 0 || !strings.HasPrefix(r, roots[len(roots)-1]) {
			roots = append(roots, r)
		}
	}
	return roots
}

// listError gives a denied listing the runbook's advice: the generic message speaks of
// KV operations, and an inventory needs list and read on the metadata paths.
func (p *Provider) listError(err error) error {
	var pe *ProviderError
	if ledgererr.CodeOf(err) != ledgererr.Forbidden || !errors.As(err, &pe) {
		return err
	}
	return wrapMapping(pe.Op, mapAccessDenied, pe.Status, "the ledger's Vault token may not list or read metadata under "+
		"an approved prefix; grant it list and read on <mount>/metadata/<prefix>* only where inventory import is approved")
}

// walker is one page's walk of the KV tree.
type walker struct {
	p             *Provider
	c             *api.Client
	ctx           context.Context
	prefix        string
	skip          []string // directories never entered (skippedRoots)
	query         string   // lower case
	after         string   // the last path passed (see listCursor)
	budget, limit int
	reads         int  // metadata reads left (MaxMetadataReadsPerPage)
	out           bool // the LIST budget ran out
	page          []providers.RemoteSecret
}

// walk lists dir and goes through its keys in order (a depth-first walk in sorted order
// passes paths in ascending order); stop is true when the page is full or the budget
// ran out.
func (w *walker) walk(dir string) (stop bool, err error) {
	if w.budget == 0 {
		w.out = true
		return true, nil
	}
	w.budget--
	keys, err := w.p.list(w.ctx, w.c, dir)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		full := dir + k
		if strings.HasSuffix(k, "/") {
			stop, err = w.dir(full)
		} else {
			stop, err = w.file(full)
		}
		if stop || err != nil {
			return stop, err
		}
	}
	return false, nil
}

func (w *walker) dir(d string) (stop bool, err error) {
	if w.passedDir(d) || w.skipped(d) ||
		!(strings.HasPrefix(d, w.prefix) || strings.HasPrefix(w.prefix, d)) {
		return false, nil
	}
	if stop, err := w.walk(d); stop || err != nil {
		return stop, err
	}
	w.after = d
	return false, nil
}

func (w *walker) file(f string) (stop bool, err error) {
	if w.passedFile(f) {
		return false, nil
	}
	if !strings.HasPrefix(f, w.prefix) || w.skipped(f) {
		// Not approved, or managed: left out again on every walk, and never the cursor,
		// which the company's operator holds.
		return false, nil
	}
	if w.query != "" && !strings.Contains(strings.ToLower(f), w.query) {
		w.after = f
		return false, nil
	}
	if len(w.page) == w.limit || w.reads == 0 {
		return true, nil // the page goes on from w.after, the path before f
	}
	w.reads--
	m, ok, err := w.p.readMetadata(w.ctx, w.c, f)
	if err != nil {
		return false, err
	}
	w.after = f
	if ok { // a secret deleted since the LIST is left out
		w.page = append(w.page, w.p.remoteSecret(f, m))
	}
	return false, nil
}

// passedFile reports whether the walk resumed from w.after has passed the file f.
func (w *walker) passedFile(f string) bool {
	a := w.after
	return a != "" && (f <= a || (strings.HasSuffix(a, "/") && strings.HasPrefix(f, a)))
}

// passedDir reports whether the walk resumed from w.after has passed every path under
// the directory d.
func (w *walker) passedDir(d string) bool {
	a := w.after
	return a != "" && ((d < a && !strings.HasPrefix(a, d)) || (strings.HasSuffix(a, "/") && strings.HasPrefix(d, a)))
}

// remoteSecret is the inventory entry of path: metadata from the allowlist only.
func (p *Provider) remoteSecret(path string, m kvMetadata) providers.RemoteSecret {
	rs := providers.RemoteSecret{Ref: path, Name: p.ExternalRefName(path), CreatedDate: parseTime(m.CreatedTime),
		LastChangedDate: parseTime(m.UpdatedTime), TagCount: len(m.CustomMetadata), Managed: m.managed()}
	if cv, ok := m.version(m.CurrentVersion); ok {
		rs.DeletedDate = parseTime(cv.DeletionTime)
	}
	return rs
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c) // a struct of an int and a string always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a NextToken; "" is the first page.
func decodeCursor(token string) (listCursor, error) {
	stale := wrapMapping("metadata.list", mapStaleCursor, 0, mapStaleCursor.message)
	if token == "" {
		return listCursor{}, nil
	}
	if len(token) > MaxNextToken {
		return listCursor{}, stale
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return listCursor{}, stale
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c listCursor
	if err := dec.Decode(&c); err != nil || dec.More() || c.Prefix < 0 {
		return listCursor{}, stale
	}
	if a := strings.TrimSuffix(c.After, "/"); c.After != "" && CheckPath(a, MaxPathLength) != "" {
		return listCursor{}, stale
	}
	return c, nil
}
