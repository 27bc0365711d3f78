package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// SecretCommands is the write side of secrets.
type SecretCommands interface {
	Create(ctx context.Context, req commands.Request, c commands.CreateSecret) (commands.Result, error)
	Update(ctx context.Context, req commands.Request, c commands.UpdateSecret) (commands.Result, error)
	Rotate(ctx context.Context, req commands.Request, c commands.RotateSecret) (commands.Result, error)
	Delete(ctx context.Context, req commands.Request, secretID string) (commands.Result, error)
	Restore(ctx context.Context, req commands.Request, secretID string) (commands.Result, error)
	Purge(ctx context.Context, req commands.Request, secretID, confirm string) (commands.Result, error)
}

// SecretQueries is the read side of secrets.
type SecretQueries interface {
	List(ctx context.Context, a actor.Actor, companyID string, f queries.SecretFilter, p queries.PageRequest) (queries.Page[queries.Secret], error)
	Get(ctx context.Context, a actor.Actor, id string) (queries.Secret, error)
	// GetIncludingDeleted is Get that also answers a deleted or purged secret.
	GetIncludingDeleted(ctx context.Context, a actor.Actor, id string) (queries.Secret, error)
	Versions(ctx context.Context, a actor.Actor, id string, p queries.PageRequest) (queries.Page[queries.Version], error)
}

// Secrets serves secrets: create, list, read, change, rotate, the lifecycle (delete,
// restore, purge) and the versions.
type Secrets struct {
	Commands SecretCommands
	Queries  SecretQueries
	*gate
}

func (s *Secrets) routes(r *mux.Router, g *gate) {
	s.gate = g
	r.HandleFunc("/companies/{companyId}/secrets", g.board(s.create)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secrets", g.board(s.list)).Methods(http.MethodGet)
	r.HandleFunc("/secrets/{id}", g.board(s.get)).Methods(http.MethodGet)
	r.HandleFunc("/secrets/{id}", g.board(s.update)).Methods(http.MethodPatch)
	r.HandleFunc("/secrets/{id}", g.board(s.delete)).Methods(http.MethodDelete)
	r.HandleFunc("/secrets/{id}/rotate", g.board(s.rotate)).Methods(http.MethodPost)
	r.HandleFunc("/secrets/{id}/restore", g.board(s.restore)).Methods(http.MethodPost)
	r.HandleFunc("/secrets/{id}/purge", g.board(s.purge)).Methods(http.MethodPost)
	r.HandleFunc("/secrets/{id}/versions", g.board(s.versions)).Methods(http.MethodGet)
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
	res, err := s.Commands.Create(r.Context(), req, commands.CreateSecret{
		CompanyID: company, Name: b.Name, Key: b.Key, Description: b.Description, Provider: b.Provider,
		ManagedMode: b.ManagedMode, ExternalRef: b.ExternalRef, ProviderVersionRef: b.ProviderVersionRef,
		ProviderConfigID: b.ProviderConfigID, Value: optionalValue(b.Value),
	})
	if err != nil {
		return err
	}
	return s.respondSecret(w, r, a, res, http.StatusCreated)
}

// respondSecret answers a command with the secret as the read model shows it after the
// command (read-your-writes: the projection ran in the append transaction): as the
// append read it back (the wiring's commands.Readback), or, when the command wrote
// nothing (a replay, no change), read now.
func (s *Secrets) respondSecret(w http.ResponseWriter, r *http.Request, a actor.Actor, res commands.Result, status int) error {
	sec, got := res.Readback.(queries.Secret)
	if !got || res.Replayed || sec.ID != res.SecretID || sec.DeletedAt != nil {
		get := s.Queries.Get
		if res.Replayed {
			// A replay answers a request that committed; the secret may have been deleted
			// since, and a 404 would tell the client its write never happened.
			get = s.Queries.GetIncludingDeleted
		}
		var err error
		if sec, err = get(r.Context(), a, res.SecretID); err != nil {
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
	res, err := s.Commands.Rotate(r.Context(), req, commands.RotateSecret{
		SecretID: mux.Vars(r)["id"], Value: optionalValue(b.Value), ExternalRef: b.ExternalRef,
		ProviderVersionRef: b.ProviderVersionRef, ExpectedLatestVersion: b.ExpectedLatestVersion,
	})
	if err != nil {
		return err
	}
	return s.respondSecret(w, r, a, res, http.StatusOK)
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
	return s.respondSecret(w, r, a, res, http.StatusOK)
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
	res, err := s.Commands.Restore(r.Context(), req, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	return s.respondSecret(w, r, a, res, http.StatusOK)
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
