package doctor

import (
	"strings"
	"testing"
)

func TestPoolerExecModeFinding(t *testing.T) {
	t.Parallel()
	const direct = "postgres://owner:pw@db.internal:5432/ledger"
	for _, tc := range []struct {
		name, runtime, migration string
		warn                     bool
		says                     string
	}{
		{"embedded database", "", "", false, ""},
		{"one URL for both", direct, "", false, ""},
		{"the same URL twice", direct, direct, false, ""},
		{"another role, same server", "postgres://app:pw@db.internal/ledger", direct, false, ""},
		{"pooler without an exec mode", "postgres://app:pw@pooler.internal:6432/ledger?sslmode=disable", direct, true, "sets no default_query_exec_mode"},
		{"pooler on the same host, another port", "postgres://app:pw@db.internal:6432/ledger", direct, true, "sets no default_query_exec_mode"},
		{"pooler with cache_describe", "postgres://app:pw@pooler.internal:6432/ledger?default_query_exec_mode=cache_describe", direct, false, ""},
		{"pooler with exec", "postgres://app:pw@pooler.internal:6432/ledger?default_query_exec_mode=exec", direct, false, ""},
		{"pooler with simple_protocol", "postgres://app:pw@pooler.internal:6432/ledger?default_query_exec_mode=simple_protocol", direct, false, ""},
		{"pooler with describe_exec", "postgres://app:pw@pooler.internal:6432/ledger?default_query_exec_mode=describe_exec", direct, true, "default_query_exec_mode=describe_exec"},
		{"pooler with cache_statement", "postgres://app:pw@pooler.internal:6432/ledger?default_query_exec_mode=cache_statement", direct, true, "default_query_exec_mode=cache_statement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, warn := poolerExecMode(tc.runtime, tc.migration)
			if warn != tc.warn {
				t.Fatalf("warns: %v, want %v (%q)", warn, tc.warn, f.Message)
			}
			if !warn {
				return
			}
			if !f.OK || !f.Warning || !strings.Contains(f.Message, tc.says) ||
				!strings.Contains(f.Message, "default_query_exec_mode=cache_describe") || !strings.Contains(f.Message, "docs/database.md") {
				t.Fatalf("finding %+v", f)
			}
			if strings.Contains(f.Message, "pw") || strings.Contains(f.Message, "internal") {
				t.Fatalf("the finding names a URL: %q", f.Message)
			}
		})
	}
}
