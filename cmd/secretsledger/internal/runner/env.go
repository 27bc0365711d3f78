package runner

import (
	"slices"
	"sort"
	"strings"
)

// isolatedKeep are the variables of run's own environment an isolated child keeps: what
// a program needs to find binaries, a home, a locale, a terminal and a time zone.
var isolatedKeep = []string{"PATH", "HOME", "LANG", "TERM", "TZ"}

// AgentKeyVar is the variable run reads the agent key from.
const AgentKeyVar = "LEDGER_AGENT_KEY"

// withheld are the ledger's own credentials that run's environment may hold (an
// operator's board token, the master key, the database URLs with their passwords): an
// agent's command never inherits them, isolated or not. The consumer's resolved entries
// may still use these names (an agent can be bound its own DATABASE_URL).
var withheld = []string{AgentKeyVar, "LEDGER_TOKEN", "PAPERCLIP_SECRETS_MASTER_KEY", "DATABASE_URL", "DATABASE_MIGRATION_URL"}

// childEnv is the child's environment: base (run's own less the withheld credentials, all
// of it or only isolatedKeep when isolated) with resolved laid over it, less the agent key. A variable named
// AgentKeyVar, or whose value holds the key, is left out whatever its origin: a key
// copied into another variable must not reach the child either.
func childEnv(base []string, resolved map[string]string, isolated bool, agentKey string) []string {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, seen := vars[k]; !seen {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if (isolated && !slices.Contains(isolatedKeep, k)) || slices.Contains(withheld, k) {
			continue
		}
		set(k, v)
	}
	names := make([]string, 0, len(resolved))
	for k := range resolved {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		set(k, resolved[k])
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		v := vars[k]
		if k == AgentKeyVar || (agentKey != "" && strings.Contains(v, agentKey)) {
			continue
		}
		out = append(out, k+"="+v)
	}
	return out
}
