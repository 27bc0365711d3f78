package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
)

// A board token revoked with `tokens revoke` (a process of its own, which serve does not
// hear) is refused by serve within boardtoken.CacheTTL of the revocation, although serve
// answered it from memory just before; a token created after serve refused a guess works
// at once (refusals are not kept).
func TestRevokedBoardTokenRefusedWithinTheCacheBound(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	if r := e.client(t, "slb_not-yet-a-token").do("GET", "/api/companies", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("a guessed token: %d", r.status)
	}
	code, out, errOut := e.run(t, "token", "create", "--board", "--label", "to-revoke")
	token := strings.TrimSpace(out)
	if code != 0 || token == "" {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	api := e.client(t, token)
	for range 3 { // the first check fills serve's entry, the others are answered from it
		api.must(http.StatusOK, "GET", "/api/companies", "")
	}
	code, out, errOut = e.run(t, "tokens", "list", "-o", "json")
	var tokens []struct{ ID, Label string }
	if err := json.Unmarshal([]byte(out), &tokens); code != 0 || err != nil {
		t.Fatalf("tokens list: %d %v %s", code, err, errOut)
	}
	id := ""
	for _, tk := range tokens {
		if tk.Label == "to-revoke" {
			id = tk.ID
		}
	}
	if code, _, errOut := e.run(t, "tokens", "revoke", id); code != 0 || id == "" {
		t.Fatalf("tokens revoke %q: %d %s", id, code, errOut)
	}
	revoked := time.Now()
	for {
		r := api.do("GET", "/api/companies", "")
		if r.status == http.StatusUnauthorized {
			t.Logf("refused %v after the revoke command returned", time.Since(revoked).Round(time.Millisecond))
			return
		}
		if r.status != http.StatusOK {
			t.Fatalf("the token before its refusal: %d %s", r.status, r.body)
		}
		// The bound, plus the time one request takes on a loaded machine.
		if time.Since(revoked) > boardtoken.CacheTTL+500*time.Millisecond {
			t.Fatalf("a revoked board token still served %v after the revocation (bound %v)", time.Since(revoked), boardtoken.CacheTTL)
		}
		time.Sleep(10 * time.Millisecond) // polling the condition, not waiting for it
	}
}
