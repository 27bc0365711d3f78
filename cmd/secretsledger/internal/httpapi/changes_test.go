package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestChangeFeed(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	get := func(query string) *http.Request {
		req := newRequest(http.MethodGet, "/api/runtime/changes", "")
		req.URL.RawQuery = strings.TrimPrefix(query, "?")
		return req
	}
	feed := func(query string) (int, map[string]any) {
		t.Helper()
		rec := s.do(get(query), s.agent)
		var m map[string]any
		if rec.Code == 200 {
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, m
	}
	code, head := feed("")
	if code != 200 || head["position"].(float64) <= 0 || len(head["changes"].([]any)) != 0 {
		t.Fatalf("head: %d %v", code, head)
	}
	after := strconv.FormatInt(int64(head["position"].(float64)), 10)
	if code, got := feed("?after=" + after + "&wait=1"); code != 200 || len(got["changes"].([]any)) != 0 {
		t.Fatalf("no change: %d %v", code, got)
	}
	for _, q := range []string{"?wait=0", "?wait=31", "?wait=x", "?after=-1", "?after=x"} {
		if code, _ := feed(q); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", q, code)
		}
	}
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/runtime/changes", ""), s.board), 403, "a board token")
}
