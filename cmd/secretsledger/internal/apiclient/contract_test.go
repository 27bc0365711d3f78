package apiclient

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi/openapitest"
)

// contract is every operation the client calls, with the Go types of its request body
// (nil: none) and of its answer (nil: not JSON).
var contract = []struct {
	op      operation
	in, out any
}{
	{opListCompanies, nil, Page[Company]{}},
	{opLedgerState, nil, LedgerState{}},
	{opCreateSecret, CreateSecret{}, Secret{}},
	{opListSecrets, nil, Page[Secret]{}},
	{opPreviewRemoteImport, RemoteImportPreviewRequest{}, RemoteImportPreview{}},
	{opRemoteImport, RemoteImportRequest{}, RemoteImportResult{}},
	{opListProviders, nil, Page[Provider]{}},
	{opGetSecret, nil, Secret{}},
	{opUpdateSecret, UpdateSecret{}, Secret{}},
	{opDeleteSecret, nil, OK{}},
	{opRotateSecret, RotateSecret{}, Secret{}},
	{opRestoreSecret, nil, Secret{}},
	{opPurgeSecret, PurgeSecret{}, OK{}},
	{opListSecretVersions, nil, Page[SecretVersion]{}},
	{opListSecretUsage, nil, Page[Binding]{}},
	{opListSecretAccessEvents, nil, Page[AccessEvent]{}},
	{opListCompanyAccessEvents, nil, Page[AccessEvent]{}},
	{opCreateBinding, CreateBinding{}, Binding{}},
	{opListBindings, nil, Page[Binding]{}},
	{opDeleteBinding, nil, OK{}},
	{opPutConsumerEnv, PutEnv{}, Env{}},
	{opGetConsumerEnv, nil, Env{}},
	{opIssueAgentKey, IssueAgentKey{}, AgentKey{}},
	{opListAgentKeys, nil, Page[AgentKeyInfo]{}},
	{opRevokeAgentKey, nil, OK{}},
	{opFreezeCompany, FreezeRequest{}, Freeze{}},
	{opLeakScan, LeakScanRequest{}, LeakScan{}},
	{opGetCompanyFreeze, nil, Freeze{}},
	{opUnfreezeCompany, UnfreezeRequest{}, Freeze{}},
	{opFreezeConsumer, FreezeRequest{}, Freeze{}},
	{opGetConsumerFreeze, nil, Freeze{}},
	{opUnfreezeConsumer, UnfreezeRequest{}, Freeze{}},
	{opRevokeConsumerAgentKeys, nil, RevokedKeys{}},
	{opGetExternalPolicy, nil, ExternalPolicy{}},
	{opSetExternalPolicy, ExternalPolicyRequest{}, ExternalPolicy{}},
	{opCreateVault, CreateVault{}, Vault{}},
	{opListVaults, nil, Page[Vault]{}},
	{opUpdateVault, UpdateVault{}, Vault{}},
	{opDisableVault, nil, Vault{}},
	{opSetDefaultVault, nil, Vault{}},
	{opCheckVaultHealth, nil, Vault{}},
	{opIssueEventSubscriber, IssueSubscriber{}, SubscriberCredentials{}},
	{opListCompanyEvents, nil, Page[EventEnvelope]{}},
	{opSecretExposure, nil, SecretExposure{}},
	{opConsumerExposure, nil, ConsumerReach{}},
	{opAuditState, nil, AuditState{}},
	{opAuditExport, nil, nil},
}

// Every operation of the client is the document's operation of that id, and its Go
// request and answer types have exactly the members of the document's schemas, with
// the same JSON types, nullability and optionality: a change on either side without
// the other fails here.
func TestClientMatchesTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	byID := documentOperations(t)
	for _, tc := range contract {
		doc, ok := byID[tc.op.id]
		if !ok {
			t.Errorf("%s: the document has no such operation", tc.op.id)
			continue
		}
		if doc.method != tc.op.method || doc.path != tc.op.path {
			t.Errorf("%s: the client calls %s %s, the document says %s %s", tc.op.id, tc.op.method, tc.op.path, doc.method, doc.path)
		}
		if tc.in != nil {
			body := doc.op.RequestBody
			if body == nil || body.Value.Content.Get("application/json") == nil {
				t.Errorf("%s: the client sends a body the document does not take", tc.op.id)
			} else {
				match(t, tc.op.id+" request", reflect.TypeOf(tc.in), body.Value.Content.Get("application/json").Schema, true)
			}
		}
		if tc.out != nil {
			match(t, tc.op.id+" answer", reflect.TypeOf(tc.out), answerSchema(t, tc.op.id, doc.op), false)
		}
	}
}

// docOperation is one operation of the document: its method, path template and body.
type docOperation struct {
	method, path string
	op           *openapi3.Operation
}

// documentOperations are the document's operations by operationId.
func documentOperations(t *testing.T) map[string]docOperation {
	t.Helper()
	c, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]docOperation{}
	for path, item := range c.Doc().Paths.Map() {
		for method, op := range item.Operations() {
			byID[op.OperationID] = docOperation{method, path, op}
		}
	}
	return byID
}

// Every operation declared in operations.go is in the contract above.
func TestContractListsEveryOperation(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "operations.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range contract {
		listed[tc.op.id] = true
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		lit, ok := node.(*ast.CompositeLit)
		if !ok || fmt.Sprint(lit.Type) != "operation" || len(lit.Elts) == 0 {
			return true
		}
		n++
		id := strings.Trim(lit.Elts[0].(*ast.BasicLit).Value, `"`)
		if !listed[id] {
			t.Errorf("operation %s is not in the contract test", id)
		}
		return true
	})
	if n != len(contract) {
		t.Errorf("operations.go declares %d operations, the contract lists %d", n, len(contract))
	}
}

func answerSchema(t *testing.T, id string, op *openapi3.Operation) *openapi3.SchemaRef {
	for _, status := range []string{"200", "201"} {
		if r := op.Responses.Value(status); r != nil && r.Value.Content.Get("application/json") != nil {
			return r.Value.Content.Get("application/json").Schema
		}
	}
	t.Fatalf("%s: no JSON answer in the document", id)
	return nil
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// match fails t where typ and the schema differ. request: typ is sent, so a member the
// schema does not require must be left out when empty (omitempty).
func match(t reporter, where string, typ reflect.Type, ref *openapi3.SchemaRef, request bool) {
	t.Helper()
	s, nullable := flatten(ref)
	if typ == rawMessage || s == nil {
		return // any JSON the schema allows, kept as the server wrote it
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	} else if nullable && typ.Kind() != reflect.Slice && typ.Kind() != reflect.Map {
		t.Errorf("%s: the schema allows null, the Go type %s cannot hold it", where, typ)
	}
	want := jsonKind(typ)
	if s.Type != nil && !s.Type.IsEmpty() && !s.Type.Includes(want) && !(want == "number" && s.Type.Includes("integer")) {
		if !(typ.Kind() == reflect.String && len(s.OneOf) > 0) {
			t.Errorf("%s: Go %s is JSON %s, the schema says %v", where, typ, want, *s.Type)
		}
		return
	}
	switch typ.Kind() {
	case reflect.Slice:
		if s.Items != nil {
			match(t, where+"[]", typ.Elem(), s.Items, request)
		}
	case reflect.Map:
		if s.AdditionalProperties.Schema != nil {
			match(t, where+"{}", typ.Elem(), s.AdditionalProperties.Schema, request)
		}
	case reflect.Struct:
		if len(s.OneOf) > 1 {
			matchOneOf(t, where, typ, s, request)
			return
		}
		matchObject(t, where, typ, s, request)
	}
}

// matchOneOf passes when typ matches one of the schema's branches (an answer that is
// one object or another, decoded into the one type that reads both).
func matchOneOf(t reporter, where string, typ reflect.Type, s *openapi3.Schema, request bool) {
	t.Helper()
	var all problems
	for _, branch := range s.OneOf {
		var p problems
		match(&p, where, typ, branch, request)
		if len(p) == 0 {
			return
		}
		all = append(all, p...)
	}
	t.Errorf("%s: Go %s matches no branch of the schema's oneOf: %s", where, typ, strings.Join(all, "; "))
}

// reporter is where match reports: a test, or problems collected for a branch.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

type problems []string

func (p *problems) Helper() {}
func (p *problems) Errorf(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

func matchObject(t reporter, where string, typ reflect.Type, s *openapi3.Schema, request bool) {
	t.Helper()
	fields := map[string]reflect.StructField{}
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f
		prop, ok := s.Properties[name]
		if !ok {
			t.Errorf("%s: Go member %s is not in the schema", where, name)
			continue
		}
		required := slices.Contains(s.Required, name)
		omitempty := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		switch {
		case required && omitempty:
			t.Errorf("%s.%s: required by the schema, left out when empty in Go", where, name)
		case !required && !omitempty && (request || f.Type.Kind() != reflect.Pointer):
			t.Errorf("%s.%s: optional in the schema, always present in Go (omitempty)", where, name)
		}
		match(t, where+"."+name, f.Type, prop, request)
	}
	for name := range s.Properties {
		if _, ok := fields[name]; !ok {
			t.Errorf("%s: schema member %s is not in the Go type %s", where, name, typ)
		}
	}
}

// flatten resolves oneOf [X, null] to X (nullable) and allOf to one object; a oneOf of
// two types other than null stays as it is.
func flatten(ref *openapi3.SchemaRef) (*openapi3.Schema, bool) {
	if ref == nil || ref.Value == nil {
		return nil, false
	}
	s := ref.Value
	nullable := s.Type != nil && s.Type.IncludesNull()
	if len(s.OneOf) > 0 {
		var others []*openapi3.SchemaRef
		for _, o := range s.OneOf {
			if o.Value.Type != nil && o.Value.Type.Is("null") {
				nullable = true
				continue
			}
			others = append(others, o)
		}
		if len(others) == 1 {
			inner, n := flatten(others[0])
			return inner, nullable || n
		}
	}
	if len(s.AllOf) > 0 {
		merged := &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{}}
		for _, part := range s.AllOf {
			p, _ := flatten(part)
			for k, v := range p.Properties {
				merged.Properties[k] = v
			}
			merged.Required = append(merged.Required, p.Required...)
		}
		return merged, nullable
	}
	return s, nullable
}

func jsonKind(typ reflect.Type) string {
	switch typ.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Float64:
		return "number"
	}
	return typ.Kind().String()
}
