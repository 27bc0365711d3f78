package audit

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/events"
)

// accessGroup is the resolution attempts of one consumer, secret, outcome and source,
// aggregated by the database from the secret.accessed events themselves (a secret may
// be read millions of times; the answer stays a few rows).
type accessGroup struct {
	secretID, targetType, targetID, outcome, source string
	count                                           int64
	first, last                                     time.Time
	versions                                        []int32
	runIDs, paths                                   []string
}

// accessGroups aggregates the secret.accessed events that match where (args from $1;
// the event type is the parameter after them).
func (l Log) accessGroups(ctx context.Context, where string, args ...any) ([]accessGroup, error) {
	rows, err := l.DB.Query(ctx, `SELECT coalesce(payload ->> 'secretId', ''), payload ->> 'targetType', payload ->> 'targetId',
			payload ->> 'outcome', coalesce(payload ->> 'source', ''), count(*), min(recorded_at), max(recorded_at),
			array_remove(array_agg(DISTINCT (payload ->> 'version')::int), NULL),
			(array_remove(array_agg(DISTINCT payload ->> 'runId'), NULL))[1:101],
			(array_agg(DISTINCT coalesce(nullif(payload ->> 'configPath', ''),
				array_to_string(ARRAY(SELECT jsonb_array_elements_text(payload -> 'configPaths')), ','))))[1:101]
		FROM ledger_events WHERE event_type = $`+itoa(len(args)+1)+` AND `+where+`
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, append(slices.Clip(args), events.SecretAccessed)...)
	if err != nil {
		return nil, dbError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (accessGroup, error) {
		var g accessGroup
		err := row.Scan(&g.secretID, &g.targetType, &g.targetID, &g.outcome, &g.source, &g.count, &g.first, &g.last,
			&g.versions, &g.runIDs, &g.paths)
		return g, err
	})
	return out, dbError(err)
}

// summarise folds groups into the successful reads and the failures by outcome.
func summarise(groups []accessGroup) (Reads, []Failures) {
	var r Reads
	versions := map[int]bool{}
	runs := map[string]bool{}
	failures := map[string]*Failures{}
	for _, g := range groups {
		if g.outcome != events.OutcomeResolved {
			f := failures[g.outcome]
			if f == nil {
				f = &Failures{Outcome: g.outcome, First: g.first, Last: g.last}
				failures[g.outcome] = f
			}
			f.Count += g.count
			if g.first.Before(f.First) {
				f.First = g.first
			}
			if g.last.After(f.Last) {
				f.Last = g.last
			}
			f.ConfigPaths = mergeSorted(f.ConfigPaths, g.paths)
			continue
		}
		r.Count += g.count
		if r.First == nil || g.first.Before(*r.First) {
			t := g.first
			r.First = &t
		}
		if r.Last == nil || g.last.After(*r.Last) {
			t := g.last
			r.Last = &t
		}
		for _, v := range g.versions {
			versions[int(v)] = true
		}
		if len(g.runIDs) > MaxRunIDs {
			r.RunIDsTruncated = true
		}
		for _, id := range g.runIDs {
			runs[id] = true
		}
	}
	for v := range versions {
		r.Versions = append(r.Versions, v)
	}
	sort.Ints(r.Versions)
	for id := range runs {
		r.RunIDs = append(r.RunIDs, id)
	}
	sort.Strings(r.RunIDs)
	if len(r.RunIDs) > MaxRunIDs {
		r.RunIDs, r.RunIDsTruncated = r.RunIDs[:MaxRunIDs], true
	}
	out := make([]Failures, 0, len(failures))
	for _, f := range failures {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Outcome < out[j].Outcome })
	return r, out
}

func mergeSorted(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	if len(out) > MaxRunIDs {
		out = out[:MaxRunIDs]
	}
	return out
}
