package httpapi

import (
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// A null where the document allows none is refused, not taken as absent; a vault's
// config may be null.
func TestDecodeRefusesNullMembers(t *testing.T) {
	t.Parallel()
	type inner struct {
		Type string `json:"type"`
	}
	type body struct {
		Name   string           `json:"name"`
		Paths  []string         `json:"paths"`
		Env    map[string]inner `json:"env"`
		Config map[string]any   `json:"config"`
		Pin    *int             `json:"pin"`
	}
	for _, tc := range []struct {
		body, field string // field "": accepted
	}{
		{`{"name": null}`, "name"},
		{`{"pin": null}`, "pin"},
		{`{"paths": ["a", null]}`, "paths[]"},
		{`{"env": {"K": null}}`, "env.K"},
		{`{"env": {"K": {"type": null}}}`, "env.K.type"},
		{`{"config": {"region": null}}`, "config.region"},
		{`{"config": null}`, ""},
		{`{"name": "null", "paths": ["null"]}`, ""},
	} {
		var b body
		_, err := decodeBytes([]byte(tc.body), &b)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.body, err)
			}
			continue
		}
		if ledgererr.CodeOf(err) != ledgererr.BadRequest || !strings.Contains(err.Error(), "field "+tc.field+" must not be null") {
			t.Errorf("%s: got %v, want a bad request naming %s", tc.body, err, tc.field)
		}
	}
}

// A member or body of the wrong JSON type is named in JSON's words, never by the
// server's Go types.
func TestDecodeNamesJSONTypes(t *testing.T) {
	t.Parallel()
	type createBody struct {
		Name  string            `json:"name"`
		Count int               `json:"count"`
		Tags  []string          `json:"tags"`
		Env   map[string]string `json:"env"`
		On    *bool             `json:"on"`
	}
	for body, want := range map[string]string{
		`[]`:               "invalid JSON body: the body must be a JSON object",
		`"x"`:              "invalid JSON body: the body must be a JSON object",
		`{"name": 5}`:      "invalid JSON body: field name must be a string",
		`{"count": "5"}`:   "invalid JSON body: field count must be an integer",
		`{"count": 1.5}`:   "invalid JSON body: field count must be an integer",
		`{"tags": "a"}`:    "invalid JSON body: field tags must be a JSON array",
		`{"env": []}`:      "invalid JSON body: field env must be a JSON object",
		`{"on": "yes"}`:    "invalid JSON body: field on must be true or false",
		`{"tags": [true]}`: "invalid JSON body: field tags must be a string",
	} {
		var b createBody
		_, err := decodeBytes([]byte(body), &b)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "httpapi.") || strings.Contains(err.Error(), "createBody")) {
			t.Errorf("%s: the error names a Go type: %v", body, err)
		}
	}
}
