package vaultfake

import (
	"slices"
	"testing"
)

func TestMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"secret/data/*", "secret/data/a/b", true},
		{"secret/data/*", "secret/data/", true},
		{"secret/data/*", "secret/metadata/a", false},
		{"secret/data/app*", "secret/data/apple", true},
		{"secret/+/app", "secret/data/app", true},
		{"secret/+/app", "secret/data/app/x", false},
		{"secret/+/app/*", "secret/data/app/x/y", true},
		{"secret/+/app/*", "secret/data/other/x", false},
		{"secret/metadata/+/", "secret/metadata/dir/", true},
		{"secret/metadata/+/", "secret/metadata/dir/sub/", false},
		{"+/secret/data/*", "team/secret/data/k", true},
	}
	for _, c := range cases {
		if got := matches(c.pattern, c.path); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

func TestLookupACLPriority(t *testing.T) {
	t.Parallel()
	acl := Policy{
		"secret/*":                   {"read"},
		"secret/data/*":              {"list"},
		"secret/data/+/x":            {"update"},
		"secret/data/app/x":          {"create"},
		"secret/data/app/*":          {"delete"},
		"secret/data/locked/*":       {"read", "deny"},
		"secret/data/a/b":            {"read"},
		"secret/data/+/+/c":          {"patch"},
		"secret/data/q/+/c":          {"sudo"},
		"secret/data/same":           {"read"},
		"secret/data/same/":          {"list"},
		"secret/data/nocaps/exactly": {},
	}
	cases := map[string][]string{
		"secret/data/app/x":          {"create"}, // exact wins
		"secret/data/app/y":          {"delete"}, // longer glob
		"secret/data/zz/x":           {"update"}, // "+" later than the shorter glob's "*"
		"secret/data/locked/k":       {"deny"},
		"secret/other":               {"read"},
		"secret/data/q/w/c":          {"sudo"}, // first wildcard later
		"secret/data/r/w/c":          {"patch"},
		"secret/data/nocaps/exactly": {"deny"},
		"other/path":                 {"deny"},
	}
	for path, want := range cases {
		if got := lookupACL(acl, path); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

func TestRelNS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tok, req, prefix string
		ok               bool
	}{
		{"", "", "", true},
		{"", "team", "team/", true},
		{"team", "team", "", true},
		{"team", "team/app", "app/", true},
		{"team", "", "", false},
		{"team", "teamx", "", false},
	}
	for _, c := range cases {
		if p, ok := relNS(c.tok, c.req); p != c.prefix || ok != c.ok {
			t.Errorf("relNS(%q, %q) = %q %v", c.tok, c.req, p, ok)
		}
	}
}
