package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// A client over HandlerTransport sends what a remote client sends (credential, JSON
// body, idempotency key, one escaped segment per id) and reads answers and errors as
// the API writes them.
func TestClientOverHandlerTransport(t *testing.T) {
	t.Parallel()
	var got *http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("X-Ledger-Position", "42")
		switch r.URL.Query().Get("cursor") {
		case "":
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusConflict)
				_, _ = w.Write([]byte(`{"error": "the latest version is 3, not 2", "details": {"code": "ECONFLICT"}}`))
				return
			}
			_, _ = w.Write([]byte(`{"items": [{"id": "a"}], "nextCursor": "c2"}`))
		default:
			_, _ = w.Write([]byte(`{"items": [{"id": "b"}], "nextCursor": null}`))
		}
	})
	c := New("http://in-process", "slb_t", &http.Client{Transport: HandlerTransport(h)})

	expected := 2
	_, _, err := c.RotateSecret(context.Background(), "id/with?odd", RotateSecret{Value: "v", ExpectedLatestVersion: &expected},
		IdempotencyKey("form-1"))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != "ECONFLICT" ||
		err.Error() != "the latest version is 3, not 2 (ECONFLICT, HTTP 409)" {
		t.Fatalf("error answer: %v", err)
	}
	if got.URL.EscapedPath() != "/api/secrets/id%2Fwith%3Fodd/rotate" || got.Header.Get("Authorization") != "Bearer slb_t" ||
		got.Header.Get("Idempotency-Key") != "form-1" || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s %v", got.Method, got.URL.EscapedPath(), got.Header)
	}

	var queries []url.Values
	secrets, err := All(url.Values{"q": {"x"}}, func(q url.Values) (Page[Secret], *Answer, error) {
		page, a, err := c.ListSecrets(context.Background(), "co", q)
		if err == nil && a.Position() != 42 {
			t.Errorf("position %d", a.Position())
		}
		queries = append(queries, got.URL.Query())
		return page, a, err
	})
	if err != nil || len(secrets) != 2 || secrets[0].ID != "a" || secrets[1].ID != "b" {
		t.Fatalf("All: %v %+v", err, secrets)
	}
	want := []url.Values{{"q": {"x"}, "limit": {"1000"}}, {"q": {"x"}, "limit": {"1000"}, "cursor": {"c2"}}}
	if !reflect.DeepEqual(queries, want) {
		t.Fatalf("queries %v, want %v", queries, want)
	}
}

// A version selector is sent as the API reads it: a number as a number, else text.
func TestVersionSelectorJSON(t *testing.T) {
	t.Parallel()
	for sel, want := range map[VersionSelector]string{Latest: `"latest"`, Version(3): `3`} {
		b, err := sel.MarshalJSON()
		if err != nil || string(b) != want {
			t.Errorf("%q: %s %v, want %s", sel, b, err, want)
		}
		var back VersionSelector
		if err := back.UnmarshalJSON(b); err != nil || back != sel {
			t.Errorf("%s read back as %q %v", b, back, err)
		}
	}
}
