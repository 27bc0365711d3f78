package eventstore

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Batch lets a statement run as one with the others of its kind among the statements of
// a transaction's appends. PostgreSQL pays an executor start-up and a protocol message
// for every statement, even one whose plan is cached, so the same work done over many
// rows by one statement costs less than one statement per append.
//
// A statement whose kind has no other member in the transaction runs alone, as its SQL
// and Args say, and so does every statement when the group commit tries each append
// again by itself after a failed transaction: the merged form never decides which
// append gets an error. A merged statement runs where its first member would have, so
// the later members move before the statements queued between: only statements that
// depend on none of those may share a kind.
type Batch interface {
	// BatchKey names the kind: statements whose keys are equal (a comparable value)
	// merge.
	BatchKey() any
	// Merge returns the statement that does the work of every member: members holds the
	// Batch of each statement of the kind, in the transaction's order. Each row of its
	// result starts with a member's index in members (from 0), followed by the columns
	// that member's own statement returns; its Row gets that row (the first, if there
	// are several), or, when there is none, a row whose Scan answers pgx.ErrNoRows, as
	// its own statement's would.
	Merge(members []any) (sql string, args []any)
}

// queueStatements queues statements on b in order, those of one Batch kind merged into
// one statement at the position of the first of them.
func queueStatements(b *pgx.Batch, statements []Statement) {
	kinds := map[any][]int{} // kind → indexes of its statements
	for i, st := range statements {
		if st.Batch != nil {
			k := st.Batch.BatchKey()
			kinds[k] = append(kinds[k], i)
		}
	}
	for i, st := range statements {
		var kind []int
		if st.Batch != nil {
			kind = kinds[st.Batch.BatchKey()]
		}
		switch {
		case len(kind) < 2:
			q := b.Queue(st.SQL, st.Args...)
			if st.Row != nil {
				q.QueryRow(st.Row)
			}
		case kind[0] == i:
			group := make([]Statement, len(kind))
			members := make([]any, len(kind))
			for j, k := range kind {
				group[j], members[j] = statements[k], statements[k].Batch
			}
			sql, args := st.Batch.Merge(members)
			b.Queue(sql, args...).Query(func(rows pgx.Rows) error { return answerMembers(rows, group) })
		}
	}
}

// answerMembers hands each member of a merged statement its row, in the order they
// come, then the ones that got none the answer of an empty result.
func answerMembers(rows pgx.Rows, group []Statement) error {
	answered := make([]bool, len(group))
	for rows.Next() {
		// The index is decoded alone: scanning the row for it, and again for the
		// member, would make pgx plan the scan of every column twice a row.
		var i int
		index := rows.FieldDescriptions()[0]
		if err := rows.Conn().TypeMap().Scan(index.DataTypeOID, index.Format, rows.RawValues()[0], &i); err != nil {
			return err
		}
		if i < 0 || i >= len(group) {
			return fmt.Errorf("eventstore: a merged statement answered member %d of %d", i, len(group))
		}
		if answered[i] || group[i].Row == nil {
			continue
		}
		answered[i] = true
		if err := group[i].Row(memberRow{rows}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, st := range group {
		if !answered[i] && st.Row != nil {
			if err := st.Row(noRow{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// memberRow is a merged statement's current row without its member index.
type memberRow struct{ rows pgx.Rows }

func (r memberRow) Scan(dest ...any) error {
	return r.rows.Scan(append([]any{nil}, dest...)...)
}

// noRow is the row of a member the merged statement returned nothing for.
type noRow struct{}

func (noRow) Scan(...any) error { return pgx.ErrNoRows }
