package vaultkv_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

// listAll pages through ListUnder and returns every secret's reference, checking each
// page's bounds.
func listAll(t *testing.T, e *env, prefixes []string, query string, pageSize int) []providers.RemoteSecret {
	t.Helper()
	var all []providers.RemoteSecret
	token := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("the listing does not end")
		}
		lists := e.f.Calls("metadata.list")
		page, err := e.p.ListUnder(context.Background(), prefixes, nil, query, token, pageSize)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if n := e.f.Calls("metadata.list") - lists; n > vaultkv.MaxListCallsPerPage {
			t.Fatalf("page %d made %d LIST calls", pages, n)
		}
		if len(page.Secrets) > pageSize {
			t.Fatalf("page %d holds %d secrets", pages, len(page.Secrets))
		}
		if len(page.NextToken) > vaultkv.MaxNextToken {
			t.Fatalf("page %d's token is %d bytes", pages, len(page.NextToken))
		}
		all = append(all, page.Secrets...)
		if page.NextToken == "" {
			return all
		}
		token = page.NextToken
	}
}

func refs(secrets []providers.RemoteSecret) []string {
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = s.Ref
	}
	return out
}

func TestListUnderPagesThroughNestedFolders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	want := []string{"apps/a", "apps/b-file", "apps/b/c", "apps/b/d/e", "apps/b/d/f", "apps/b/z", "apps/billing/x",
		"apps/c/deep/er/still/leaf", "apps/z"}
	for _, p := range append(slices.Clone(want), "other/x", "appsx/y", "paperclip/other/z") {
		e.f.Write("", "secret", p, map[string]any{"value": "secret-" + p})
	}
	mustPut(t, e.p, newRef("managed"), "never listed")
	reads := e.f.Calls("data.read")
	for _, size := range []int{1, 2, 3, 100} {
		got := listAll(t, e, []string{"secret/apps/"}, "", size)
		if fmt.Sprint(refs(got)) != fmt.Sprint(want) {
			t.Fatalf("page size %d: %v\nwant %v", size, refs(got), want)
		}
	}
	if n := e.f.Calls("data.read"); n != reads {
		t.Fatalf("the listing read data %d times", n-reads)
	}
	// The whole mount leaves out the managed root only; paths are in order.
	all := refs(listAll(t, e, []string{"*"}, "", 4))
	wantAll := append(slices.Clone(want), "other/x", "appsx/y", "paperclip/other/z")
	sort.Strings(wantAll)
	if fmt.Sprint(all) != fmt.Sprint(wantAll) {
		t.Fatalf("whole mount: %v\nwant %v", all, wantAll)
	}
	if page, err := e.p.List(context.Background(), "", "", 100); err != nil || fmt.Sprint(refs(page.Secrets)) != fmt.Sprint(wantAll) {
		t.Fatalf("List: %v, %v", refs(page.Secrets), err)
	}
	// Overlapping prefixes list each path once; a prefix need not end at a folder; other
	// mounts' and namespaces' prefixes do not count here.
	got := refs(listAll(t, e, []string{"secret/apps/b", "secret/apps/b/d/", "kv/apps/", "ns1/secret/other/", "secret/other/"}, "", 2))
	if fmt.Sprint(got) != "[apps/b-file apps/b/c apps/b/d/e apps/b/d/f apps/b/z apps/billing/x other/x]" {
		t.Fatalf("overlapping prefixes: %v", got)
	}
	// The query filters paths, case-insensitively.
	if got := refs(listAll(t, e, []string{"*"}, "B/D", 1)); fmt.Sprint(got) != "[apps/b/d/e apps/b/d/f]" {
		t.Fatalf("query: %v", got)
	}
	if got := listAll(t, e, []string{"secret/nothing/"}, "", 10); len(got) != 0 {
		t.Fatalf("an empty prefix listed %v", refs(got))
	}
}

func TestListEntriesHoldMetadataOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.f.Write("", "secret", "apps/live", map[string]any{"value": "x"})
	e.f.Write("", "secret", "apps/copied", map[string]any{"value": "x"})
	e.markManaged(t, "apps/copied")
	e.f.Write("", "secret", "apps/deleted", map[string]any{"value": "x"})
	e.f.DeleteVersions("", "secret", "apps/deleted", 1)
	page, err := e.p.ListUnder(context.Background(), []string{"secret/apps/"}, nil, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Secrets) != 3 || page.NextToken != "" {
		t.Fatalf("page %+v", page)
	}
	byRef := map[string]providers.RemoteSecret{}
	for _, s := range page.Secrets {
		byRef[s.Ref] = s
		if s.Name != "secret/"+s.Ref || s.CreatedDate == nil || s.LastChangedDate == nil {
			t.Fatalf("entry %+v", s)
		}
	}
	if c := byRef["apps/copied"]; !c.Managed || c.TagCount != 1 {
		t.Fatalf("managed-by copy %+v", c)
	}
	if l := byRef["apps/live"]; l.Managed || l.TagCount != 0 || l.DeletedDate != nil {
		t.Fatalf("live %+v", l)
	}
	if d := byRef["apps/deleted"]; d.DeletedDate == nil {
		t.Fatalf("deleted %+v", d)
	}
}

func TestListBudgetBoundsAPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var want []string
	for i := range 260 { // one folder per secret: 261 LIST calls for the whole walk
		p := fmt.Sprintf("apps/f%03d/s", i)
		want = append(want, p)
		e.f.Write("", "secret", p, map[string]any{"value": "x"})
	}
	lists := e.f.Calls("metadata.list")
	first, err := e.p.ListUnder(context.Background(), []string{"secret/apps/"}, nil, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.f.Calls("metadata.list") - lists; n > vaultkv.MaxListCallsPerPage || len(first.Secrets) != 100 || first.NextToken == "" {
		t.Fatalf("first page: %d secrets, %d LIST calls, token %q", len(first.Secrets), n, first.NextToken)
	}
	got := refs(listAll(t, e, []string{"secret/apps/"}, "", 100))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %d of %d, in order: %v", len(got), len(want), slices.Equal(got, want))
	}
	// With a query nothing matches, a page runs out of LIST calls and comes back short
	// (empty) with a token to go on from.
	lists = e.f.Calls("metadata.list")
	page, err := e.p.ListUnder(context.Background(), []string{"secret/apps/"}, nil, "no-such", "", 100)
	if err != nil || len(page.Secrets) != 0 || page.NextToken == "" {
		t.Fatalf("short page %+v, %v", page, err)
	}
	if n := e.f.Calls("metadata.list") - lists; n != vaultkv.MaxListCallsPerPage {
		t.Fatalf("short page made %d LIST calls", n)
	}
	if rest := listAll(t, e, []string{"secret/apps/"}, "no-such", 100); len(rest) != 0 {
		t.Fatalf("query matched %v", refs(rest))
	}
}

func TestListRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, size := range []int{0, vaultkv.MaxListPageSize + 1} {
		if _, err := e.p.List(ctx, "", "", size); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("pageSize %d: %v", size, err)
		}
	}
	if _, err := e.p.List(ctx, strings.Repeat("q", vaultkv.MaxListQuery+1), "", 10); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Errorf("long query: %v", err)
	}
	for _, token := range []string{"not base64!", "e30", strings.Repeat("A", vaultkv.MaxNextToken+1),
		"eyJwIjo1LCJhIjoiIn0",      // {"p":5,"a":""}: no such prefix
		"eyJwIjowLCJhIjoiLi4veCJ9", // {"p":0,"a":"../x"}
		"eyJ4IjoxfQ"} {             // {"x":1}
		_, err := e.p.ListUnder(ctx, []string{"*"}, nil, "", token, 10)
		if token == "e30" { // {}: the first prefix from the start, a valid cursor
			if err != nil {
				t.Errorf("token {}: %v", err)
			}
			continue
		}
		wantCode(t, err, ledgererr.Invalid, vaultkv.CodeInvalidRequest)
	}
}
