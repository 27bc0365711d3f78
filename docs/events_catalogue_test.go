package docs_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/queries/audit"
)

var update = flag.Bool("update", false, "rewrite the generated part of events.md")

// The generated part of events.md sits between these markers.
const (
	catalogueBegin = "<!-- BEGIN generated event catalogue: go test ./docs -run TestEventCatalogue -update -->\n"
	catalogueEnd   = "<!-- END generated event catalogue -->\n"
)

// projectedTables are the read-model tables each event type's projection writes.
// Declared here (the statements of bulk runs are queued away from their handlers);
// TestEventCatalogue holds it to the projections' own tables and handlers.
var projectedTables = map[string][]string{
	events.SecretCreated:          {"company_secrets", "company_secret_versions"},
	events.SecretVersionAdded:     {"company_secret_versions", "company_secrets"},
	events.SecretUpdated:          {"company_secrets"},
	events.SecretDeleted:          {"company_secrets"},
	events.SecretRestored:         {"company_secrets"},
	events.SecretPurged:           {"company_secrets", "company_secret_versions"},
	events.BindingCreated:         {"company_secret_bindings"},
	events.BindingRemoved:         {"company_secret_bindings"},
	events.ConsumerEnvSet:         {"consumer_envs"},
	events.AgentKeyIssued:         {"agent_keys"},
	events.AgentKeyRevoked:        {"agent_keys"},
	events.SecretAccessed:         {"secret_access_events", "company_secrets"},
	events.EventSubscriberIssued:  {"event_subscribers"},
	events.EventSubscriberRevoked: {"event_subscribers"},
	events.VaultCreated:           {"company_secret_provider_configs"},
	events.VaultUpdated:           {"company_secret_provider_configs"},
	events.VaultDefaultSet:        {"company_secret_provider_configs"},
	events.VaultDisabled:          {"company_secret_provider_configs"},
	events.VaultHealthChecked:     {"company_secret_provider_configs"},
}

// servedTables are the routes that answer from each read-model table. Declared here:
// the routes name queries, not tables, so no scan finds this.
var servedTables = map[string][]string{
	"company_secrets":                 {"GET /api/companies/{companyId}/secrets", "GET /api/secrets/{id}", "GET /api/companies"},
	"company_secret_versions":         {"GET /api/secrets/{id}/versions"},
	"company_secret_bindings":         {"GET /api/companies/{companyId}/secret-bindings", "GET /api/secrets/{id}/usage"},
	"consumer_envs":                   {"GET /api/companies/{companyId}/consumers/{targetType}/{targetId}/env"},
	"agent_keys":                      {"GET /api/companies/{companyId}/agent-keys"},
	"secret_access_events":            {"GET /api/secrets/{id}/access-events", "GET /api/companies/{companyId}/access-events"},
	"event_subscribers":               {"serve: the subscribers' NATS consumers"},
	"company_secret_provider_configs": {"GET /api/companies/{companyId}/secret-provider-configs", "GET /api/secret-provider-configs/{id}", "GET /api/companies/{companyId}/secret-providers"},
}

// servedFolds are the routes that answer from each fold of the log (by Reader name).
var servedFolds = map[string][]string{
	"queries/audit: stateFold":     {"GET /api/companies/{companyId}/audit/state"},
	"queries/audit: secretHistory": {"GET /api/secrets/{id}/exposure", "GET /api/companies/{companyId}/consumers/{targetType}/{targetId}/exposure"},
	"queries/audit: consumerReach": {"GET /api/companies/{companyId}/consumers/{targetType}/{targetId}/exposure"},
}

// logReads are the answers read from the log by SQL on event types, without a fold
// table: the routes they serve and the types they read.
var logReads = []struct {
	types  []string
	routes []string
}{
	{[]string{events.CompanyFrozen, events.CompanyUnfrozen}, []string{"GET /api/companies/{companyId}/freeze"}},
	{[]string{events.ConsumerFrozen, events.ConsumerUnfrozen}, []string{"GET /api/companies/{companyId}/consumers/{targetType}/{targetId}/freeze"}},
	{[]string{events.ExternalPolicySet}, []string{"GET /api/companies/{companyId}/external-policy"}},
	{[]string{events.SecretAccessed}, []string{"GET /api/companies/{companyId}/consumers/{targetType}/{targetId}/exposure"}},
	{[]string{events.SecretAccessed, events.BindingCreated, events.BindingRemoved, events.AgentKeyIssued, events.AgentKeyRevoked},
		[]string{"GET /api/secrets/{id}/exposure"}},
	{[]string{events.EventSubscriberIssued, events.EventSubscriberRevoked}, []string{"serve: the subscribers' NATS consumers"}},
	{[]string{events.SecretVersionAdded}, []string{"GET /api/companies/{companyId}/audit/state"}},
	{[]string{events.SecretExposureReported}, []string{"GET /api/secrets/{id}/exposure"}},
}

// TestEventCatalogue holds the generated catalogue in events.md to the registry, the
// fold and projection tables and the commands' source; -update rewrites it.
func TestEventCatalogue(t *testing.T) {
	doc, err := os.ReadFile("events.md")
	if err != nil {
		t.Fatal(err)
	}
	begin, end := strings.Index(string(doc), catalogueBegin), strings.Index(string(doc), catalogueEnd)
	if begin < 0 || end < begin {
		t.Fatalf("events.md lacks the markers %q and %q", catalogueBegin, catalogueEnd)
	}
	checkProjectedTables(t)
	emitted, err := emitters(filepath.Join("..", "commands"))
	if err != nil {
		t.Fatal(err)
	}
	want := catalogue(emitted)
	got := string(doc[begin+len(catalogueBegin) : end])
	if got == want {
		return
	}
	if *update {
		out := string(doc[:begin+len(catalogueBegin)]) + want + string(doc[end:])
		if err := os.WriteFile("events.md", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the event catalogue in docs/events.md is out of date: run go test ./docs -run TestEventCatalogue -update\n got:\n%s\nwant:\n%s", got, want)
}

// checkProjectedTables holds projectedTables to the projections: a type has tables
// exactly when a projection handles it, and they are projections' tables.
func checkProjectedTables(t *testing.T) {
	t.Helper()
	var tables []string
	handled := map[string]bool{}
	for _, p := range projections.All() {
		tables = append(tables, p.Tables()...)
		for _, name := range p.Reader().Handles {
			handled[name] = true
		}
	}
	for _, typ := range events.Types() {
		if handled[typ.Name] != (len(projectedTables[typ.Name]) > 0) {
			t.Errorf("%s: projected %v, but declared tables %v", typ.Name, handled[typ.Name], projectedTables[typ.Name])
		}
		for _, table := range projectedTables[typ.Name] {
			if !slices.Contains(tables, table) || servedTables[table] == nil {
				t.Errorf("%s: %s is no projection's table, or serves no route", typ.Name, table)
			}
		}
	}
}

// catalogue renders one row per registered type.
func catalogue(emitted map[string][]string) string {
	var b strings.Builder
	b.WriteString("\n| type | schema | stream | emitted in (`commands/`) | folded by | projected into | served by |\n|---|---|---|---|---|---|---|\n")
	folds := append(commands.Folds(), audit.Folds()...)
	for _, t := range events.Types() {
		var schemas []string
		for _, v := range t.Versions {
			schemas = append(schemas, fmt.Sprint(v.Schema))
		}
		var folded, projected, served []string
		for _, r := range folds {
			if slices.Contains(r.Handles, t.Name) {
				folded = append(folded, r.Name)
				served = append(served, servedFolds[r.Name]...)
			}
		}
		for _, p := range projections.All() {
			if slices.Contains(p.Reader().Handles, t.Name) {
				projected = append(projected, p.Name()+": "+strings.Join(projectedTables[t.Name], ", "))
			}
		}
		for _, table := range projectedTables[t.Name] {
			served = append(served, servedTables[table]...)
		}
		for _, l := range logReads {
			if slices.Contains(l.types, t.Name) {
				served = append(served, l.routes...)
			}
		}
		slices.Sort(served)
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s | %s |\n", t.Name, strings.Join(schemas, ", "), t.Stream.Pattern,
			cell(emitted[t.Payload().Name()]), cell(folded), cell(projected), cell(slices.Compact(served)))
	}
	b.WriteString("\nEvery type is also published on NATS (`ledger.<companyId>.<type>`), listed by\n" +
		"`GET /api/companies/{companyId}/events` and exported by `GET /api/companies/{companyId}/audit/export`.\n\n")
	return b.String()
}

func cell(items []string) string {
	if len(items) == 0 {
		return "–"
	}
	return strings.Join(items, "; ")
}

// emitters scans the non-test Go files of dir for the functions that build event
// payloads (a composite literal events.XxxV1{...}, or a result of a payload type): a
// command emits an event by building its payload. It returns, per payload type name,
// "file.go (function)" in source order.
func emitters(dir string) (map[string][]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	payloads := map[string]bool{}
	for _, t := range events.Types() {
		payloads[t.Payload().Name()] = true
	}
	out := map[string][]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			where := filepath.Base(path) + " (" + funcName(fn) + ")"
			found := func(typ ast.Expr) {
				sel, ok := typ.(*ast.SelectorExpr)
				if !ok || !payloads[sel.Sel.Name] {
					return
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "events" && !slices.Contains(out[sel.Sel.Name], where) {
					out[sel.Sel.Name] = append(out[sel.Sel.Name], where)
				}
			}
			if fn.Type.Results != nil {
				for _, r := range fn.Type.Results.List {
					found(r.Type)
				}
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				if lit, ok := n.(*ast.CompositeLit); ok {
					found(lit.Type)
				}
				return true
			})
		}
	}
	return out, nil
}

// funcName is Recv.Name of a method, Name of a function.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
