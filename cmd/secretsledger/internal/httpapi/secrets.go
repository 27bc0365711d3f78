package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

// SecretCommands is the write side the API calls.
type SecretCommands interface {
	Create(ctx context.Context, req commands.Request, c commands.CreateSecret) (commands.Result, error)
	Rotate(ctx context.Context, req commands.Request, c commands.RotateSecret) (commands.Result, error)
	Update(ctx context.Context, req commands.Request, c commands.UpdateSecret) (commands.Result, error)
	Delete(ctx context.Context, req commands.Request, secretID string) (commands.Result, error)
	Restore(ctx context.Context, req commands.Request, secretID string) (commands.Result, error)
	Purge(ctx context.Context, req commands.Request, secretID, confirm string) (commands.Result, error)
	PreviewImport(ctx context.Context, a actor.Actor, p commands.ImportPreview) (commands.ImportPreviewResult, error)
	Import(ctx context.Context, req commands.Request, c commands.ImportSecrets) (commands.ImportResult, error)
}

// SecretQueries is the read side the API calls.
type SecretQueries interface {
	List(ctx context.Context, a actor.Actor, companyID string, f queries.SecretFilter, p queries.PageRequest) (queries.Page[queries.Secret], error)
	Get(ctx context.Context, a actor.Actor, id string) (queries.Secret, error)
	// GetIncludingDeleted is Get that also answers a deleted or purged secret.
	GetIncludingDeleted(ctx context.Context, a actor.Actor, id string) (queries.Secret, error)
	// Readback is the statement that reads a secret back in a command's append.
	Readback(id string, got func(queries.Secret)) eventstore.Statement
	Versions(ctx context.Context, a actor.Actor, id string, p queries.PageRequest) (queries.Page[queries.Version], error)
}

// Authenticator turns a bearer token into an actor.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (actor.Actor, error)
}

// Secrets is the secrets part of the API.
type Secrets struct {
	Auth      Authenticator
	Commands  SecretCommands
	Queries   SecretQueries
	Providers []providers.Provider
	// RequestHash fingerprints a request for idempotency; it must be keyed (HMAC), as
	// bodies carry secret values.
	RequestHash func([]byte) []byte
	Consumers   Consumers
	Incidents   Incidents
	Vaults      Vaults
	Policies    Policies
	// Subscribers is nil when subscriber credentials cannot be issued.
	Subscribers EventSubscribers
	Events      EventReader
	// Audit is nil when the audit routes are off.
	Audit AuditQueries
	// Companies (GET /api/companies) and Ledger (GET /api/ledger) leave their route out
	// when nil: the router then answers 404, as for any path it does not serve.
	Companies CompanyQueries
	Ledger    LedgerStatus
	log       *slog.Logger
}

type handler func(w http.ResponseWriter, r *http.Request, a actor.Actor) error

func (s *Secrets) routes(r *mux.Router, log *slog.Logger) {
	s.log = log
	board := s.board
	r.HandleFunc("/companies/{companyId}/secrets", board(s.create)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secrets", board(s.list)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/secrets/remote-import/preview", board(s.previewImport)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secrets/remote-import", board(s.remoteImport)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secret-providers", board(s.providerList)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/secret-providers/health", board(s.providerHealth)).Methods(http.MethodGet)
	r.HandleFunc("/secrets/{id}", board(s.get)).Methods(http.MethodGet)
	r.HandleFunc("/secrets/{id}", board(s.update)).Methods(http.MethodPatch)
	r.HandleFunc("/secrets/{id}", board(s.delete)).Methods(http.MethodDelete)
	r.HandleFunc("/secrets/{id}/rotate", board(s.rotate)).Methods(http.MethodPost)
	r.HandleFunc("/secrets/{id}/restore", board(s.restore)).Methods(http.MethodPost)
	r.HandleFunc("/secrets/{id}/purge", board(s.purge)).Methods(http.MethodPost)
	r.HandleFunc("/secrets/{id}/versions", board(s.versions)).Methods(http.MethodGet)
	s.consumerRoutes(r)
	s.incidentRoutes(r)
	s.policyRoutes(r)
	s.vaultRoutes(r)
	s.eventRoutes(r)
	s.auditRoutes(r)
	s.ledgerRoutes(r)
}

var errNoToken = ledgererr.New(ledgererr.Unauthorized, "a valid token is required (Authorization: Bearer <token>)")

type onBehalfKey struct{}

// OnBehalfOf marks an in-process request to the API as made for a, whom the caller has
// authenticated already (the console, for its session's board token). The request then
// passes the same checks as one with a's token. Only code in this process can put a
// value into a request's context, so no client can claim an actor this way.
func OnBehalfOf(ctx context.Context, a actor.Actor) context.Context {
	return context.WithValue(ctx, onBehalfKey{}, a)
}

func actorOnBehalf(ctx context.Context) (actor.Actor, error) {
	if a, ok := ctx.Value(onBehalfKey{}).(actor.Actor); ok {
		return a, nil
	}
	return actor.Actor{}, errNoToken
}

// board admits board tokens only: an agent key gets 403.
func (s *Secrets) board(h handler) http.HandlerFunc { return s.admit(actor.Board, h) }

// agent admits agent keys only: a board token gets 403.
func (s *Secrets) agent(h handler) http.HandlerFunc { return s.admit(actor.Agent, h) }

// admit authenticates, checks the actor kind, bounds the body, and writes errors.
func (s *Secrets) admit(kind string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := actorOnBehalf(r.Context())
		if err != nil {
			if token := bearerToken(r); token != "" {
				a, err = s.Auth.Authenticate(r.Context(), token)
			}
		}
		if err == nil {
			setActor(r, a)
		}
		if err == nil && a.Type != kind {
			err = ledgererr.New(ledgererr.Forbidden, "this route is for %s credentials", kind)
		}
		// A company the actor may not see does not exist for it, whatever else the
		// request gets wrong.
		if company, ok := mux.Vars(r)["companyId"]; ok && err == nil && !a.CanAccess(strings.ToLower(company)) {
			err = ledgererr.New(ledgererr.NotFound, "company not found")
		}
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
			err = h(w, r, a)
		}
		if err != nil {
			WriteError(w, s.log, err)
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func companyID(r *http.Request) (string, error) {
	id := mux.Vars(r)["companyId"]
	if !uuidPattern.MatchString(id) {
		return "", ledgererr.New(ledgererr.BadRequest, "companyId must be a UUID")
	}
	return strings.ToLower(id), nil
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

// decodeCommand reads a command's JSON body strictly into dst and builds its request.
func (s *Secrets) decodeCommand(r *http.Request, a actor.Actor, dst any) (commands.Request, error) {
	raw, err := decode(r, dst)
	if err != nil {
		return commands.Request{}, err
	}
	return s.request(r, a, raw)
}

// emptyCommand builds the request of a command route that takes no body (nothing, or "{}").
func (s *Secrets) emptyCommand(r *http.Request, a actor.Actor) (commands.Request, error) {
	raw, err := emptyBody(r)
	if err != nil {
		return commands.Request{}, err
	}
	return s.request(r, a, raw)
}

// decodeOptionalCommand is decodeCommand for a route whose body may be left out.
func (s *Secrets) decodeOptionalCommand(r *http.Request, a actor.Actor, dst any) (commands.Request, error) {
	raw, err := readBody(r)
	if err != nil {
		return commands.Request{}, err
	}
	if len(raw) > 0 {
		if _, err := decodeBytes(raw, dst); err != nil {
			return commands.Request{}, err
		}
	}
	return s.request(r, a, raw)
}

// request builds the command request: actor, request id, and the idempotency key with
// a keyed fingerprint of method, path and body.
func (s *Secrets) request(r *http.Request, a actor.Actor, body []byte) (commands.Request, error) {
	req := commands.Request{Actor: a, RequestID: requestIDOf(r)}
	key, err := idempotencyKey(r)
	if err != nil {
		return req, err
	}
	if key != "" {
		fp := append([]byte(r.Method+" "+r.URL.Path+"\n"), body...)
		req.Idempotency = &eventstore.Idempotency{Key: key, RequestHash: s.RequestHash(fp)}
	}
	return req, nil
}

func written(w http.ResponseWriter, res commands.Result) {
	if res.Position > 0 {
		w.Header().Set("X-Ledger-Position", strconv.FormatInt(res.Position, 10))
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

// optionalValue turns a JSON string field into a Value; absent stays nil.
func optionalValue(s *string) *providers.Value {
	if s == nil {
		return nil
	}
	v := providers.NewValue([]byte(*s))
	return &v
}

type createBody struct {
	Name               string  `json:"name"`
	Key                string  `json:"key"`
	Description        string  `json:"description"`
	Provider           string  `json:"provider"`
	ManagedMode        string  `json:"managedMode"`
	Value              *string `json:"value"`
	ExternalRef        string  `json:"externalRef"`
	ProviderVersionRef string  `json:"providerVersionRef"`
	ProviderConfigID   string  `json:"providerConfigId"`
}

func (s *Secrets) create(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b createBody
	req, err := s.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	rb := s.readBack(&req)
	res, err := s.Commands.Create(r.Context(), req, commands.CreateSecret{
		CompanyID: company, Name: b.Name, Key: b.Key, Description: b.Description, Provider: b.Provider,
		ManagedMode: b.ManagedMode, ExternalRef: b.ExternalRef, ProviderVersionRef: b.ProviderVersionRef,
		ProviderConfigID: b.ProviderConfigID, Value: optionalValue(b.Value),
	})
	if err != nil {
		return err
	}
	return s.respondSecret(w, r, a, res, http.StatusCreated, rb)
}

// readback is a secret as a command's append transaction read it back.
type readback struct {
	sec queries.Secret
	got bool
}

// readBack asks the command of req to read its secret back in its append's transaction.
func (s *Secrets) readBack(req *commands.Request) *readback {
	rb := &readback{}
	req.Readback = func(id string) eventstore.Statement {
		return s.Queries.Readback(id, func(sec queries.Secret) { rb.sec, rb.got = sec, true })
	}
	return rb
}

// respondSecret answers a command with the secret as the read model shows it after the
// command (read-your-writes: the projection ran in the append transaction): as the
// append read it back, or, when the command wrote nothing (a replay, no change), read
// now.
func (s *Secrets) respondSecret(w http.ResponseWriter, r *http.Request, a actor.Actor, res commands.Result, status int, rb *readback) error {
	sec := rb.sec
	if !rb.got || res.Replayed || sec.ID != res.SecretID || sec.DeletedAt != nil {
		var err error
		if sec, err = s.Queries.Get(r.Context(), a, res.SecretID); err != nil {
			return err
		}
	}
	written(w, res)
	writeJSON(w, status, secretJSON(sec))
	return nil
}

func (s *Secrets) list(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	f := queries.SecretFilter{Search: r.URL.Query().Get("q")}
	if f.Deleted, err = deletedParam(r); err != nil {
		return err
	}
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Secret], error) {
		return s.Queries.List(r.Context(), a, company, f, p)
	}, secretJSON)
}

// deletedParam reads the deleted query parameter: true, or false (the default).
func deletedParam(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("deleted") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, ledgererr.New(ledgererr.BadRequest, "deleted must be true or false")
}

func (s *Secrets) get(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	deleted, err := deletedParam(r)
	if err != nil {
		return err
	}
	get := s.Queries.Get
	if deleted {
		get = s.Queries.GetIncludingDeleted
	}
	sec, err := get(r.Context(), a, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, secretJSON(sec))
	return nil
}

func (s *Secrets) versions(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Version], error) {
		return s.Queries.Versions(r.Context(), a, mux.Vars(r)["id"], p)
	}, func(v queries.Version) versionOut {
		return versionOut{SecretID: v.SecretID, Version: v.Version, Status: v.Status, ProviderVersionRef: v.ProviderVersionRef,
			ExternalRef: v.ExternalRef, Fingerprint: v.Fingerprint, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt}
	})
}

type rotateBody struct {
	Value                 *string `json:"value"`
	ExternalRef           string  `json:"externalRef"`
	ProviderVersionRef    string  `json:"providerVersionRef"`
	ExpectedLatestVersion *int    `json:"expectedLatestVersion"`
}

func (s *Secrets) rotate(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	var b rotateBody
	req, err := s.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	rb := s.readBack(&req)
	res, err := s.Commands.Rotate(r.Context(), req, commands.RotateSecret{
		SecretID: mux.Vars(r)["id"], Value: optionalValue(b.Value), ExternalRef: b.ExternalRef,
		ProviderVersionRef: b.ProviderVersionRef, ExpectedLatestVersion: b.ExpectedLatestVersion,
	})
	if err != nil {
		return err
	}
	return s.respondSecret(w, r, a, res, http.StatusOK, rb)
}

type updateBody struct {
	Name        *string `json:"name"`
	Key         *string `json:"key"`
	Description *string `json:"description"`
	Status      *string `json:"status"`
	ExternalRef *string `json:"externalRef"`
	// ProviderConfigID is refused: a secret's vault is fixed at creation.
	ProviderConfigID *string `json:"providerConfigId"`
}

func (s *Secrets) update(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	var b updateBody
	raw, err := decode(r, &b)
	if err != nil {
		return err
	}
	if b.ProviderConfigID != nil {
		return ledgererr.New(ledgererr.Invalid, "a secret's provider vault cannot be changed; create a new secret in the other vault")
	}
	id := mux.Vars(r)["id"]
	req, err := s.request(r, a, raw)
	if err != nil {
		return err
	}
	rb := s.readBack(&req)
	res, err := s.Commands.Update(r.Context(), req, commands.UpdateSecret{
		SecretID: id, Name: b.Name, Key: b.Key, Description: b.Description, Status: b.Status, ExternalRef: b.ExternalRef,
	})
	if err != nil {
		return err
	}
	if b.Status != nil && *b.Status == commands.StatusDeleted {
		written(w, res)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	}
	return s.respondSecret(w, r, a, res, http.StatusOK, rb)
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

func (s *Secrets) delete(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	req, err := s.emptyCommand(r, a)
	if err != nil {
		return err
	}
	res, err := s.Commands.Delete(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	written(w, res)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (s *Secrets) restore(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	req, err := s.emptyCommand(r, a)
	if err != nil {
		return err
	}
	rb := s.readBack(&req)
	res, err := s.Commands.Restore(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	return s.respondSecret(w, r, a, res, http.StatusOK, rb)
}

type purgeBody struct {
	Confirm string `json:"confirm"`
}

func (s *Secrets) purge(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	var b purgeBody
	req, err := s.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := s.Commands.Purge(r.Context(), req, mux.Vars(r)["id"], b.Confirm)
	if err != nil {
		return err
	}
	written(w, res)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (s *Secrets) providerList(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	if err := s.companyVisible(r, a); err != nil {
		return err
	}
	// A handful of providers: always one page. The deployment's instances come first,
	// then those coming soon.
	all := make([]providers.Descriptor, 0, len(s.Providers)+2)
	for _, p := range s.Providers {
		all = append(all, p.Descriptor())
	}
	all = append(all, providers.ComingSoon()...)
	writePage(w, queries.Page[providers.Descriptor]{Items: all}, func(d providers.Descriptor) providerOut {
		status := "ready"
		if d.ComingSoon {
			status = "coming_soon"
		}
		return providerOut{ID: d.ID, Label: d.Label, SupportsManagedValues: d.SupportsManagedValues,
			SupportsExternalReferences: d.SupportsExternalReferences, Configured: d.Configured, Status: status}
	})
	return nil
}

func (s *Secrets) providerHealth(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	if err := s.companyVisible(r, a); err != nil {
		return err
	}
	writePage(w, queries.Page[providers.Provider]{Items: s.Providers}, func(p providers.Provider) healthOut {
		h := p.Health(r.Context())
		findings := h.Findings
		if instanceWide(a) {
			findings = h.All()
		}
		if findings == nil {
			findings = []string{}
		}
		return healthOut{Provider: h.Provider, OK: h.OK, Findings: findings}
	})
	return nil
}

// instanceWide says a is a board token for every company: only such a token sees the
// instance itself (its key files, endpoints, deployment, the log's head).
func instanceWide(a actor.Actor) bool { return a.Type == actor.Board && a.Companies == nil }

func (s *Secrets) companyVisible(r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	if !a.CanAccess(company) {
		return ledgererr.New(ledgererr.NotFound, "company not found")
	}
	return nil
}

// JSON shapes of responses: camelCase as in the seeds' system.

type secretOut struct {
	ID               string     `json:"id"`
	CompanyID        string     `json:"companyId"`
	Key              string     `json:"key"`
	Name             string     `json:"name"`
	Description      string     `json:"description"`
	Provider         string     `json:"provider"`
	Status           string     `json:"status"`
	ManagedMode      string     `json:"managedMode"`
	ExternalRef      *string    `json:"externalRef"`
	ProviderConfigID *string    `json:"providerConfigId"`
	LatestVersion    int        `json:"latestVersion"`
	CreatedBy        string     `json:"createdBy"`
	CreatedAt        time.Time  `json:"createdAt"`
	UpdatedAt        time.Time  `json:"updatedAt"`
	LastResolvedAt   *time.Time `json:"lastResolvedAt"`
	DeletedAt        *time.Time `json:"deletedAt,omitempty"`
}

func secretJSON(s queries.Secret) secretOut {
	return secretOut{ID: s.ID, CompanyID: s.CompanyID, Key: s.Key, Name: s.Name, Description: s.Description,
		Provider: s.Provider, Status: s.Status, ManagedMode: s.ManagedMode, ExternalRef: s.ExternalRef,
		ProviderConfigID: s.ProviderConfigID, LatestVersion: s.LatestVersion, CreatedBy: s.CreatedBy,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, LastResolvedAt: s.LastResolvedAt, DeletedAt: s.DeletedAt}
}

type versionOut struct {
	SecretID           string    `json:"secretId"`
	Version            int       `json:"version"`
	Status             string    `json:"status"`
	ProviderVersionRef *string   `json:"providerVersionRef"`
	ExternalRef        *string   `json:"externalRef"`
	Fingerprint        *string   `json:"fingerprint"`
	CreatedBy          string    `json:"createdBy"`
	CreatedAt          time.Time `json:"createdAt"`
}

type providerOut struct {
	ID                         string `json:"id"`
	Label                      string `json:"label"`
	SupportsManagedValues      bool   `json:"supportsManagedValues"`
	SupportsExternalReferences bool   `json:"supportsExternalReferences"`
	Configured                 bool   `json:"configured"`
	Status                     string `json:"status"` // ready | coming_soon
}

type healthOut struct {
	Provider string   `json:"provider"`
	OK       bool     `json:"ok"`
	Findings []string `json:"findings"`
}
