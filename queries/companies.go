package queries

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// Company is a company an actor may see, with the size of what the ledger holds for it.
// The ledger has no table of companies: a company exists for it once one of its read
// models has a row of it.
type Company struct {
	ID string
	// Secrets counts its secrets that are not purged (soft-deleted ones included).
	Secrets int64
	// Bindings counts its bindings.
	Bindings int64
	// AgentKeys counts its agent keys that are not revoked.
	AgentKeys int64
	// Vaults counts its provider vaults, disabled ones included.
	Vaults int64
}

// Companies lists the companies an actor may see.
type Companies struct {
	DB *pgxpool.Pool
}

// knownCompanies is the page of company ids after $1, at most $2 of them, that appear in
// a read model. Each branch takes the first $2 distinct ids of one table from an index
// led by company_id (company_secrets_company, the bindings' and consumer envs' keys,
// agent_keys_company, company_secret_provider_configs_company): PostgreSQL reads it as
// an index-only scan cut short by the limit, so a page reads the index entries of about
// its own companies, wherever the cursor is. The first $2 ids of the union are among the
// first $2 of some branch.
const knownCompanies = `page AS (
	SELECT id FROM (
		(SELECT DISTINCT company_id AS id FROM company_secrets WHERE company_id > $1 ORDER BY 1 LIMIT $2)
		UNION (SELECT DISTINCT company_id FROM company_secret_bindings WHERE company_id > $1 ORDER BY 1 LIMIT $2)
		UNION (SELECT DISTINCT company_id FROM agent_keys WHERE company_id > $1 ORDER BY 1 LIMIT $2)
		UNION (SELECT DISTINCT company_id FROM company_secret_provider_configs WHERE company_id > $1 ORDER BY 1 LIMIT $2)
		UNION (SELECT DISTINCT company_id FROM consumer_envs WHERE company_id > $1 ORDER BY 1 LIMIT $2)
	) known ORDER BY id LIMIT $2)`

// listedCompanies is the page of the ids in $3 after $1, at most $2 of them: a token's
// companies, whether or not the ledger holds anything of them yet.
const listedCompanies = `page AS (
	SELECT DISTINCT id FROM unnest($3::text[]) AS id WHERE id > $1 ORDER BY id LIMIT $2)`

// companyCounts counts, per company of the page, from the same indexes.
const companyCounts = `
	SELECT page.id,
		(SELECT count(*) FROM company_secrets s WHERE s.company_id = page.id AND s.status <> 'purged'),
		(SELECT count(*) FROM company_secret_bindings b WHERE b.company_id = page.id),
		(SELECT count(*) FROM agent_keys k WHERE k.company_id = page.id AND k.revoked_at IS NULL),
		(SELECT count(*) FROM company_secret_provider_configs v WHERE v.company_id = page.id)
	FROM page ORDER BY page.id`

// List returns a page of the companies a may see, by id: for a token limited to
// companies exactly those (with zero counts where the ledger holds nothing yet), for an
// instance-wide token every company that appears in the secrets, bindings, agent keys,
// provider vaults or consumer envs.
func (q Companies) List(ctx context.Context, a actor.Actor, p PageRequest) (Page[Company], error) {
	var after string
	if _, err := p.decodeCursor(&after); err != nil {
		return Page[Company]{}, err
	}
	var rows pgx.Rows
	var err error
	if a.Companies == nil {
		rows, err = q.DB.Query(ctx, `WITH `+knownCompanies+companyCounts, after, p.size()+1)
	} else {
		ids := make([]string, 0, len(a.Companies))
		for _, c := range a.Companies {
			ids = append(ids, strings.ToLower(c))
		}
		slices.Sort(ids)
		rows, err = q.DB.Query(ctx, `WITH `+listedCompanies+companyCounts, after, p.size()+1, slices.Compact(ids))
	}
	list, err := collect(rows, err, func(row pgx.CollectableRow) (Company, error) {
		var c Company
		err := row.Scan(&c.ID, &c.Secrets, &c.Bindings, &c.AgentKeys, &c.Vaults)
		return c, err
	})
	if err != nil {
		return Page[Company]{}, err
	}
	return pageOf(p, list, func(c Company) []any { return []any{c.ID} }), nil
}
