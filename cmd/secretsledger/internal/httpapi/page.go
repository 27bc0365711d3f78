package httpapi

import (
	"net/http"
	"strconv"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// pageRequest reads limit and cursor. legacy names the position parameter a list took
// before cursors ("before" or "after"), "" for none; it is used when there is no cursor.
func pageRequest(r *http.Request, legacy string) (queries.PageRequest, error) {
	q := r.URL.Query()
	p := queries.PageRequest{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > queries.MaxPageSize {
			return p, ledgererr.New(ledgererr.BadRequest, "limit must be a number from 1 to %d", queries.MaxPageSize)
		}
		p.Limit = n
	}
	if v := q.Get(legacy); legacy != "" && v != "" && p.Cursor == "" {
		pos, err := strconv.ParseInt(v, 10, 64)
		if err != nil || pos < 0 {
			return p, ledgererr.New(ledgererr.BadRequest, "%s must be a log position", legacy)
		}
		if pos > 0 {
			p.Cursor = queries.PositionCursor(pos)
		}
	}
	return p, nil
}

// pageOut is the answer of every list: a page of items, and the cursor of the next page
// (null on the last).
type pageOut[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// listPage answers a list route: the page the query parameters ask for (legacy as in
// pageRequest), read by query, each item shaped by out.
func listPage[T, U any](w http.ResponseWriter, r *http.Request, legacy string,
	query func(queries.PageRequest) (queries.Page[T], error), out func(T) U) error {
	p, err := pageRequest(r, legacy)
	if err != nil {
		return err
	}
	page, err := query(p)
	if err != nil {
		return err
	}
	writePage(w, page, out)
	return nil
}

func writePage[T, U any](w http.ResponseWriter, p queries.Page[T], f func(T) U) {
	out := pageOut[U]{Items: mapSlice(p.Items, f)}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
