package docs_test

// The architecture's import rules, held to the code. Each package's doc.go states which
// of the module's packages it imports in a rule paragraph:
//
//	Imports: eventstore, eventstore/ledgererr.
//
// (paths relative to the module, comma-separated; "nothing of ours" or "anything of
// ours" instead of a list), which third-party modules it uses, by the short names of
// thirdParty below (or "none"):
//
//	Third-party: pgx, ulid.
//
// and a package that only tests may import says so:
//
//	Imported by: tests only.
//
// The test reads every package's non-test imports (go/build, so no go command is run)
// and fails when they differ from its rules either way, so neither a forbidden import
// nor a stale rule goes unnoticed; and it holds the package table of
// docs/architecture.md to the same rules for our packages.

import (
	"errors"
	"fmt"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	nothingOfOurs  = "nothing of ours"
	anythingOfOurs = "anything of ours"
)

// thirdParty names the third-party modules (import path prefixes) for the
// "Third-party:" rules.
var thirdParty = map[string]string{
	"pgx":         "github.com/jackc/pgx/v5",
	"ulid":        "github.com/oklog/ulid/v2",
	"nats":        "github.com/nats-io",
	"aws-sdk":     "github.com/aws",
	"prometheus":  "github.com/prometheus",
	"kin-openapi": "github.com/getkin/kin-openapi",
	"gorilla/mux": "github.com/gorilla/mux",
	"cobra":       "github.com/spf13/cobra",
	"age":         "filippo.io/age",
	"x/term":      "golang.org/x/term",
	"bcrypt":      "golang.org/x/crypto/bcrypt",
	"vault-api":   "github.com/hashicorp/vault/api",
}

// rule is what one package's doc.go says of its imports.
type rule struct {
	imports   []string // relative paths, sorted
	third     []string // short names of thirdParty, sorted
	anything  bool     // "anything of ours": the wiring
	testsOnly bool     // "Imported by: tests only."
}

// pkg is one package of the module, as the build sees it.
type pkg struct {
	rel     string   // path relative to the module ("." for its root)
	imports []string // its non-test imports of the module's packages, relative, sorted
	third   []string // its non-test imports of other modules
}

var (
	importsRule  = regexp.MustCompile(`(?m)^Imports: ([^.]*)\.`)
	testsOnlyRul = regexp.MustCompile(`(?m)^Imported by: tests only\.`)
	thirdRule    = regexp.MustCompile(`(?m)^Third-party: ([^.]*)\.`)
)

func TestEveryPackageImportsWhatItsDocSays(t *testing.T) {
	root, module := moduleRoot(t)
	pkgs := modulePackages(t, root, module)
	rules := map[string]rule{}
	for _, p := range pkgs {
		r, err := readRule(filepath.Join(root, p.rel))
		if err != nil {
			t.Errorf("%s: %v", p.rel, err)
			continue
		}
		rules[p.rel] = r
		if r.anything {
			continue
		}
		for _, imp := range p.imports {
			if !slices.Contains(r.imports, imp) {
				t.Errorf("%s imports %s, which its doc.go does not allow: add it to the package's \"Imports:\" line only if the architecture allows the arrow", p.rel, imp)
			}
		}
		for _, allowed := range r.imports {
			if !slices.Contains(p.imports, allowed) {
				t.Errorf("%s: its doc.go's \"Imports:\" line names %s, which it does not import: remove it", p.rel, allowed)
			}
		}
	}
	for _, p := range pkgs {
		if r, ok := rules[p.rel]; ok {
			checkThirdParty(t, p, r)
		}
	}
	for _, p := range pkgs {
		for _, imp := range p.imports {
			if rules[imp].testsOnly {
				t.Errorf("%s imports %s, which only tests may import", p.rel, imp)
			}
		}
	}
	checkTable(t, root, pkgs, rules)
}

// readRule parses the rule paragraphs of the package comment in dir/doc.go.
func readRule(dir string) (rule, error) {
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
	if errors.Is(err, os.ErrNotExist) {
		return rule{}, errors.New("no doc.go: every package has one saying its job and, in an \"Imports:\" line, which of our packages it imports")
	}
	if err != nil {
		return rule{}, err
	}
	if f.Doc == nil {
		return rule{}, errors.New("doc.go has no package comment")
	}
	text := f.Doc.Text()
	m := importsRule.FindAllStringSubmatch(text, -1)
	if len(m) != 1 {
		return rule{}, errors.New(`doc.go's package comment needs exactly one rule line "Imports: a, b/c." (paths relative to the module), or "Imports: nothing of ours." / "Imports: anything of ours."`)
	}
	r := rule{testsOnly: testsOnlyRul.MatchString(text)}
	third := thirdRule.FindAllStringSubmatch(text, -1)
	if len(third) != 1 {
		return rule{}, errors.New(`doc.go's package comment needs exactly one rule line "Third-party: pgx, ulid." (short names of thirdParty in docs/architecture_test.go), or "Third-party: none."`)
	}
	if list := strings.Join(strings.Fields(third[0][1]), " "); list != "none" {
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			if _, ok := thirdParty[name]; !ok {
				return rule{}, fmt.Errorf("\"Third-party:\" names %q, which thirdParty in docs/architecture_test.go does not know", name)
			}
			r.third = append(r.third, name)
		}
		sort.Strings(r.third)
	}
	switch list := strings.Join(strings.Fields(m[0][1]), " "); list {
	case nothingOfOurs:
	case anythingOfOurs:
		r.anything = true
	default:
		for _, p := range strings.Split(list, ",") {
			r.imports = append(r.imports, strings.TrimSpace(p))
		}
		sort.Strings(r.imports)
	}
	return r, nil
}

func moduleRoot(t *testing.T) (root, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return dir, strings.TrimSpace(m)
				}
			}
			t.Fatalf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// modulePackages lists the module's packages that have non-test Go files, with their
// imports of the module's packages.
func modulePackages(t *testing.T, root, module string) []pkg {
	t.Helper()
	var pkgs []pkg
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) || (err == nil && len(bp.GoFiles)+len(bp.CgoFiles) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		p := pkg{rel: filepath.ToSlash(rel)}
		for _, imp := range bp.Imports {
			if r, ok := strings.CutPrefix(imp, module+"/"); ok {
				p.imports = append(p.imports, r)
			} else if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
				p.third = append(p.third, imp)
			}
		}
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages under %s", len(pkgs), root)
	}
	return pkgs
}

// checkThirdParty holds p's imports of other modules to its "Third-party:" rule.
func checkThirdParty(t *testing.T, p pkg, r rule) {
	t.Helper()
	used := map[string]bool{}
	for _, imp := range p.third {
		name := ""
		for n, prefix := range thirdParty {
			if imp == prefix || strings.HasPrefix(imp, prefix+"/") {
				name = n
			}
		}
		switch {
		case name == "":
			t.Errorf("%s imports %s, which no short name of thirdParty in docs/architecture_test.go covers: add one, and name it in the package's \"Third-party:\" line", p.rel, imp)
		case !slices.Contains(r.third, name):
			t.Errorf("%s imports %s (%s), which its doc.go's \"Third-party:\" line does not name", p.rel, imp, name)
		}
		used[name] = true
	}
	for _, name := range r.third {
		if !used[name] {
			t.Errorf("%s: its doc.go's \"Third-party:\" line names %s, which it does not import: remove it", p.rel, name)
		}
	}
}

var backticked = regexp.MustCompile("`([^`]+)`")

// checkTable holds the package table of docs/architecture.md (| `package` | job |
// imports |) to the rules: one row per package, and the packages of ours in its
// imports column (in backticks) are exactly those of the package's rule.
func checkTable(t *testing.T, root string, pkgs []pkg, rules map[string]rule) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 3 {
			continue
		}
		name := backticked.FindStringSubmatch(cells[0])
		if name == nil {
			continue
		}
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.rel == name[1] }) {
			t.Errorf("docs/architecture.md: the table has a row for %s, which is no package of the module", name[1])
			continue
		}
		rows[name[1]] = true
		r, ok := rules[name[1]]
		if !ok {
			continue // its doc.go's problem is reported already
		}
		if r.anything {
			if !strings.Contains(cells[2], anythingOfOurs) {
				t.Errorf("docs/architecture.md: the row of %s should say %q, as its doc.go does", name[1], anythingOfOurs)
			}
			continue
		}
		var listed []string
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			listed = append(listed, m[1])
		}
		sort.Strings(listed)
		if !slices.Equal(listed, r.imports) {
			t.Errorf("docs/architecture.md: the row of %s lists %v of our packages; its doc.go's rule is %v", name[1], listed, r.imports)
		}
	}
	for _, p := range pkgs {
		if !rows[p.rel] {
			t.Errorf("docs/architecture.md: the package table has no row for %s", p.rel)
		}
	}
}
