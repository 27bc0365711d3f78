package queries

// secretReadback is a Readback as a member of the one statement that reads back the
// secrets of every append of a transaction (eventstore.Batch): under load a transaction
// carries several appends, and one statement over their ids costs PostgreSQL less than
// one statement each.
type secretReadback struct{ id string }

type secretReadbackKind struct{}

// BatchKey implements eventstore.Batch.
func (secretReadback) BatchKey() any { return secretReadbackKind{} }

// Merge implements eventstore.Batch: the rows of Readback's own statement, each led by
// the index of the member that asked for it; a member whose secret has no row gets
// none.
//
// The ids go through a materialized CTE so that the planner never sees how many there
// are: otherwise a plan for the actual count (a few) always looks cheaper than the
// generic one (which assumes ten), and PostgreSQL plans the statement again at every
// execution, which cost more than the statements it replaces.
func (secretReadback) Merge(members []any) (string, []any) {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.(secretReadback).id
	}
	return `WITH p AS MATERIALIZED (SELECT $1::text[] AS ids)
		SELECT m.i - 1, ` + secretColumns + ` FROM p, unnest(p.ids) WITH ORDINALITY AS m(want, i)
		JOIN company_secrets ON id = want`, []any{ids}
}
