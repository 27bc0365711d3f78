package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The CLI verbs drive the API of a running server; values come from an environment
// variable or stdin and never show in the output.
func TestSecretsCLIClient(t *testing.T) {
	t.Parallel()
	secretsCLIClient(t, onOneProcess(t))
}

// secretsCLIClient creates, rotates, lists, updates, deletes and restores a secret with
// the CLI verbs.
func secretsCLIClient(t *testing.T, tg *apiTarget) {
	companyA, _ := tg.companies()
	v1, v2 := canary("cli1"), canary("cli2")
	vars := []string{"MY_SECRET=" + v1}
	var outputs strings.Builder
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := tg.runInput(t, vars, stdin, args...)
		outputs.WriteString(out + errOut)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(run("", "secrets", "create", "-C", companyA, "--name", "CLI secret", "--value-env", "MY_SECRET")), &created); err != nil {
		t.Fatal(err)
	}
	id := created["id"].(string)
	run(v2+"\n", "secrets", "rotate", id, "--expected-latest-version", "1")
	if out := run("", "secrets", "versions", id); strings.Count(out, `"version"`) != 2 {
		t.Fatalf("versions: %s", out)
	}
	if out := run("", "secrets", "list", "-C", companyA, "--q", "cli"); !strings.Contains(out, id) {
		t.Fatalf("list: %s", out)
	}
	run("", "secrets", "update", id, "--description", "from the CLI")
	run("", "secrets", "delete", id)
	run("", "secrets", "restore", id)

	code, _, errOut := tg.runInput(t, nil, canary("stale")+"\n", "secrets", "rotate", id, "--expected-latest-version", "1")
	if code != 1 || !strings.Contains(errOut, "ECONFLICT") {
		t.Fatalf("stale rotate: exit %d %s", code, errOut)
	}
	if code, _, errOut := tg.run(t, "secrets", "rotate", id); code != 2 || !strings.Contains(errOut, "no value") {
		t.Fatalf("rotate without a value: exit %d %s", code, errOut)
	}
	for _, v := range []string{v1, v2} {
		if strings.Contains(outputs.String(), v) {
			t.Fatalf("the CLI printed a value")
		}
	}
}
