package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Limits on what a request may carry (docs/secrets.md, "Limits"). Everything a client
// sends is checked here, at the edge, so that no malformed text reaches PostgreSQL
// (which refuses NUL and invalid UTF-8 with an error that is not the client's to see).
const (
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes = 1 << 20
	// MaxHeaderID bounds Idempotency-Key and X-Request-Id.
	MaxHeaderID = 255
	// MaxTokenBytes bounds the bearer token; longer ones are not tokens this server issued.
	MaxTokenBytes = 512
	// MaxParamBytes bounds one path parameter or query parameter value.
	MaxParamBytes = 1024
)

// headerIDPattern is the shape of Idempotency-Key and X-Request-Id values.
var headerIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,255}$`)

// textProblem says what is wrong with a client-supplied string, or "" when it is fine.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// checkedRequest wraps every /api handler: path variables and query parameters are
// valid text of bounded length, and ids have the shape this server gives them; the
// handler runs within RequestTimeout.
func checkedRequest(log *slog.Logger) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := checkPathAndQuery(r); err != nil {
				WriteError(w, log, err)
				return
			}
			r, cancel := withDeadline(r)
			defer cancel()
			next.ServeHTTP(w, r)
		})
	}
}

func checkPathAndQuery(r *http.Request) error {
	for name, v := range mux.Vars(r) {
		if p := textProblem(v); p != "" {
			if name == "id" {
				return ledgererr.New(ledgererr.NotFound, "not found")
			}
			return ledgererr.New(ledgererr.BadRequest, "path parameter %s %s", name, p)
		}
		// Secrets, bindings, agent keys and event subscribers are named by ULIDs: any
		// other id cannot exist.
		if name == "id" && !isULID(v) {
			return ledgererr.New(ledgererr.NotFound, "not found")
		}
		if len(v) > MaxParamBytes {
			return ledgererr.New(ledgererr.BadRequest, "path parameter %s is longer than %d bytes", name, MaxParamBytes)
		}
	}
	for name, vs := range r.URL.Query() {
		if p := textProblem(name); p != "" {
			return ledgererr.New(ledgererr.BadRequest, "a query parameter name %s", p)
		}
		for _, v := range vs {
			if p := textProblem(v); p != "" {
				return ledgererr.New(ledgererr.BadRequest, "query parameter %s %s", name, p)
			}
			if len(v) > MaxParamBytes {
				return ledgererr.New(ledgererr.BadRequest, "query parameter %s is longer than %d bytes", name, MaxParamBytes)
			}
		}
	}
	return nil
}

func isULID(s string) bool {
	if len(s) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(strings.ToUpper(s))
	return err == nil
}

// bearerToken returns the request's bearer token, "" when there is none a server of
// ours could have issued.
func bearerToken(r *http.Request) string {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || len(token) > MaxTokenBytes || textProblem(token) != "" {
		return ""
	}
	return token
}

// idempotencyKey returns the Idempotency-Key header, "" when absent; a key of the wrong
// shape is refused rather than stored in the immutable log.
func idempotencyKey(r *http.Request) (string, error) {
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" {
		return "", nil
	}
	if !headerIDPattern.MatchString(key) {
		return "", ledgererr.New(ledgererr.BadRequest, "Idempotency-Key must be 1 to %d characters of A-Z a-z 0-9 . _ : -", MaxHeaderID)
	}
	return key, nil
}

// requestID returns the client's X-Request-Id when it has the shape of an id, else a
// fresh one: a request id is a correlation aid, not something to refuse a request over.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); headerIDPattern.MatchString(id) {
		return id
	}
	return "req_" + ulid.Make().String()
}

// checkJSONText refuses a body that is not valid UTF-8, that has a NUL character in a
// member name or a string (Go's decoder would turn the first into U+FFFD and pass the
// second on to PostgreSQL), or that sets a member to null where the document does not
// allow it (Go's decoder would take it as absent, which a strict reading must not).
// Members named "value" are exempt from the NUL check: they hold secret material, which
// is encrypted as bytes and never stored as text.
func checkJSONText(body []byte) error {
	if !utf8.Valid(body) {
		return ledgererr.New(ledgererr.BadRequest, "the request body is not valid UTF-8")
	}
	// A NUL can only reach a decoded string through the escape \u0000, a null only as
	// the literal.
	hasNUL := bytes.Contains(body, []byte(`\u0000`))
	if !hasNUL && !bytes.Contains(body, []byte("null")) {
		return nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil // the typed decode reports malformed JSON
	}
	if field := nulField(doc, ""); hasNUL && field != "" {
		return ledgererr.New(ledgererr.BadRequest, "field %s contains a NUL character", field)
	}
	if field := nullField(doc, ""); field != "" {
		return ledgererr.New(ledgererr.BadRequest, "invalid JSON body: field %s must not be null (leave it out instead)", field)
	}
	return nil
}

// nullableMembers are the top-level request members the document lets be null: a
// vault's config (null: none).
var nullableMembers = map[string]bool{"config": true}

// nullField returns the path of the first member or array element under v that is
// null (a top-level member of nullableMembers excepted), "" when there is none. The body
// itself being null is the typed decode's to refuse.
func nullField(v any, path string) string {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if e == nil {
				return path + "[]"
			}
			if f := nullField(e, path+"[]"); f != "" {
				return f
			}
		}
	case map[string]any:
		for _, name := range slices.Sorted(maps.Keys(v)) {
			field := name
			if path != "" {
				field = path + "." + name
			}
			if v[name] == nil && !(path == "" && nullableMembers[name]) {
				return field
			}
			if f := nullField(v[name], field); f != "" {
				return f
			}
		}
	}
	return ""
}

// typeProblem says which JSON type a member must have, in JSON's words (never the
// server's Go type names).
func typeProblem(err *json.UnmarshalTypeError) string {
	want := jsonTypeName(err.Type)
	if err.Field == "" {
		return "the body must be " + want
	}
	return "field " + err.Field + " must be " + want
}

// jsonTypeName names the JSON type that decodes into t.
func jsonTypeName(t reflect.Type) string {
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return "another JSON value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another JSON value"
}

// nulField returns the path of the first member name or string under v that holds a
// NUL character, "" when there is none.
func nulField(v any, path string) string {
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return path
		}
	case []any:
		for _, e := range v {
			if f := nulField(e, path+"[]"); f != "" {
				return f
			}
		}
	case map[string]any:
		for name, e := range v {
			if strings.IndexByte(name, 0) >= 0 {
				return join(strings.ReplaceAll(name, "\x00", `\u0000`))
			}
			if name == "value" {
				continue
			}
			if f := nulField(e, join(name)); f != "" {
				return f
			}
		}
	}
	return ""
}

// clientDataError turns PostgreSQL's data exceptions (class 22: bad encoding, a value
// out of range) and program limits (class 54: a key too large for an index) into a
// 400: they are caused by what the client sent, whatever check let it through.
func clientDataError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	if strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "54") {
		return ledgererr.Wrap(err, ledgererr.BadRequest, "the request holds a value the ledger cannot store")
	}
	return err
}

// decode reads a JSON body strictly: unknown fields and trailing data are errors.
func decode(r *http.Request, dst any) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeBytes(body, dst)
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, ledgererr.New(ledgererr.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, ledgererr.New(ledgererr.BadRequest, "cannot read the request body")
	}
	return body, nil
}

func decodeBytes(body []byte, dst any) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := checkJSONText(body); err != nil {
		return nil, err
	}
	// Go decodes null into a struct without a word; a body is an object or nothing.
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return nil, ledgererr.New(ledgererr.BadRequest, "invalid JSON body: the body must be a JSON object")
	}
	if err := dec.Decode(dst); err != nil {
		// json's messages name fields and types, never values.
		return nil, ledgererr.New(ledgererr.BadRequest, "invalid JSON body: %s", jsonProblem(err))
	}
	if dec.More() {
		return nil, ledgererr.New(ledgererr.BadRequest, "invalid JSON body: trailing data")
	}
	return body, nil
}

func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeProblem(typeErr)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field") {
		return strings.TrimPrefix(msg, "json: ")
	}
	return "malformed JSON"
}

// emptyBody reads the body of a route that takes none: nothing, or "{}".
func emptyBody(r *http.Request) ([]byte, error) {
	raw, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if b := strings.TrimSpace(string(raw)); b != "" && b != "{}" {
		return nil, ledgererr.New(ledgererr.BadRequest, "this route takes no body")
	}
	return raw, nil
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func companyID(r *http.Request) (string, error) {
	id := mux.Vars(r)["companyId"]
	if !uuidPattern.MatchString(id) {
		return "", ledgererr.New(ledgererr.BadRequest, "companyId must be a UUID")
	}
	return strings.ToLower(id), nil
}

// consumerOf reads the consumer of a path; a company's path leaves the target empty.
func consumerOf(r *http.Request) (commands.Consumer, error) {
	company, err := companyID(r)
	v := mux.Vars(r)
	return commands.Consumer{CompanyID: company, TargetType: v["targetType"], TargetID: v["targetId"]}, err
}

// timeParam reads an RFC 3339 time from the query; absent is the zero time.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, ledgererr.New(ledgererr.BadRequest, "%s must be an RFC 3339 time", name)
	}
	return t.UTC(), nil
}
