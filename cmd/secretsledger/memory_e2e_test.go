package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Two ledger processes on one database decide from memory. Both hold the consumer, its
// secrets and its agent key in memory (each has resolved before); a change made
// through one is honoured by the other's very next resolution, with no sleep and no
// time-to-live: the other's access append is conditional on every stream it decided
// on, so it finds them moved, reads them again and decides on the log's state.
// Rotations of one secret through both give gap-free versions with one winner each.
func TestTwoProcessesHonourEachOthersChangesAtOnce(t *testing.T) {
	t.Parallel()
	pa, pb, _, _, token := twoProcesses(t)
	boardA, boardB := pa.client(t, token), pb.client(t, token)

	valueA, valueB := canary("memory-a"), canary("memory-b")
	create := func(name, value string) string {
		return boardA.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "`+name+`", "value": "`+value+`"}`).json(t)["id"].(string)
	}
	secretA, secretB := create("A", valueA), create("B", valueB)
	bind := func(secretID, path string) string {
		return boardA.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
			`{"secretId": "`+secretID+`", "targetType": "agent", "targetId": "agent-m", "configPath": "`+path+`"}`).json(t)["id"].(string)
	}
	bind(secretA, "env.A")
	bindingB := bind(secretB, "env.B")
	key := boardA.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-m"}`).json(t)
	agentA, agentB := pa.client(t, key["token"].(string)), pb.client(t, key["token"].(string))

	env := func(api *apiClient) map[string]any {
		t.Helper()
		return api.must(200, "POST", "/api/runtime/resolve", `{}`).json(t)["env"].(map[string]any)
	}
	for _, api := range []*apiClient{agentA, agentB} { // both processes now hold it all in memory
		if got := env(api); got["A"] != valueA || got["B"] != valueB {
			t.Fatalf("warm-up resolution: %d values", len(got))
		}
	}
	refusedWith := func(api *apiClient, body string, status int, want string) {
		t.Helper()
		r := api.do("POST", "/api/runtime/resolve", body)
		if r.status != status || !strings.Contains(string(r.body), want) ||
			strings.Contains(string(r.body), valueA) || strings.Contains(string(r.body), valueB) {
			t.Fatalf("resolution through the other process: %d %s, want %d %q and no value", r.status, r.body, status, want)
		}
	}

	// Unbind through A: B's next resolution no longer has the path.
	boardA.must(200, "DELETE", "/api/secret-bindings/"+bindingB, "")
	if got := env(agentB); got["B"] != nil || got["A"] != valueA {
		t.Fatalf("after the unbind through A, B resolved %v", keysOf(got))
	}
	refusedWith(agentB, `{"configPaths": ["env.B"]}`, 422, "binding_missing")

	// Disable through A: B's next resolution refuses the secret.
	boardA.must(200, "PATCH", "/api/secrets/"+secretA, `{"status": "disabled"}`)
	refusedWith(agentB, `{"configPaths": ["env.A"]}`, 422, "secret_inactive")
	boardB.must(200, "PATCH", "/api/secrets/"+secretA, `{"status": "active"}`)
	if got := env(agentA); got["A"] != valueA {
		t.Fatalf("after enabling through B, A resolved %v", keysOf(got))
	}

	// Delete through A: B refuses it.
	boardA.must(200, "DELETE", "/api/secrets/"+secretA, "")
	refusedWith(agentB, `{"configPaths": ["env.A"]}`, 422, "secret_deleted")
	boardB.must(200, "POST", "/api/secrets/"+secretA+"/restore", "")
	if got := env(agentA); got["A"] != valueA {
		t.Fatalf("after the restore through B, A resolved %v", keysOf(got))
	}

	memoryConcurrentRotationsStep(t, boardA, boardB, secretB, valueB)

	// Revoke the key through A: B refuses the very next resolution.
	boardA.must(200, "DELETE", "/api/agent-keys/"+key["id"].(string), "")
	refusedWith(agentB, `{}`, 401, "revoked")
	refusedWith(agentA, `{}`, 401, "revoked")
}

// memoryConcurrentRotationsStep: concurrent rotations of one secret through both
// processes: every version exactly once, and with expectedLatestVersion, one winner per
// version.
func memoryConcurrentRotationsStep(t *testing.T, boardA, boardB *apiClient, secretB, valueB string) {
	t.Helper()
	const perProcess = 15
	var wg sync.WaitGroup
	errs := make(chan string, 2*perProcess)
	for _, api := range []*apiClient{boardA, boardB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProcess {
				if r := api.do("POST", "/api/secrets/"+secretB+"/rotate", fmt.Sprintf(`{"value": "%s-%d"}`, valueB, i)); r.status != 200 {
					errs <- fmt.Sprintf("rotation: %d %s", r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for round := range 5 {
		latest := int(boardA.must(200, "GET", "/api/secrets/"+secretB, "").json(t)["latestVersion"].(float64))
		statuses := make([]int, 2)
		for i, api := range []*apiClient{boardA, boardB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = api.do("POST", "/api/secrets/"+secretB+"/rotate",
					fmt.Sprintf(`{"value": "cas-%d-%d", "expectedLatestVersion": %d}`, round, i, latest)).status
			}()
		}
		wg.Wait()
		if won := countOf(statuses, 200); won != 1 || countOf(statuses, 409) != 1 {
			t.Fatalf("round %d: compare-and-set rotations through both processes answered %v, want one 200 and one 409", round, statuses)
		}
	}
	versions := boardB.must(200, "GET", "/api/secrets/"+secretB+"/versions?limit=1000", "").list(t)
	want := 1 + 2*perProcess + 5
	seen := map[int]bool{}
	for _, v := range versions {
		seen[int(v["version"].(float64))] = true
	}
	for v := 1; v <= want; v++ {
		if !seen[v] {
			t.Errorf("version %d is missing", v)
		}
	}
	if len(versions) != want {
		t.Fatalf("%d versions, want %d (1 + %d rotations)", len(versions), want, want-1)
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func countOf(list []int, v int) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
