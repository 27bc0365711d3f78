package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// AccessQueries reads the access events: every attempt to resolve a secret.
type AccessQueries interface {
	AccessEvents(ctx context.Context, a actor.Actor, secretID string, p queries.PageRequest) (queries.Page[queries.AccessEvent], error)
	CompanyAccessEvents(ctx context.Context, a actor.Actor, companyID string, f queries.AccessFilter, p queries.PageRequest) (queries.Page[queries.AccessEvent], error)
}

// AccessEvents serves the access events of a secret and of a company.
type AccessEvents struct {
	Queries AccessQueries
}

func (h *AccessEvents) routes(r *mux.Router, g *gate) {
	r.HandleFunc("/secrets/{id}/access-events", g.board(h.secretEvents)).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/access-events", g.board(h.companyEvents)).Methods(http.MethodGet)
}

func (h *AccessEvents) secretEvents(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return listPage(w, r, "before", func(p queries.PageRequest) (queries.Page[queries.AccessEvent], error) {
		return h.Queries.AccessEvents(r.Context(), a, mux.Vars(r)["id"], p)
	}, accessJSON)
}

func (h *AccessEvents) companyEvents(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	f, err := accessFilterOf(r)
	if err != nil {
		return err
	}
	return listPage(w, r, "before", func(p queries.PageRequest) (queries.Page[queries.AccessEvent], error) {
		return h.Queries.CompanyAccessEvents(r.Context(), a, company, f, p)
	}, accessJSON)
}

// accessOutcomes are what an access event's outcome filter may name: resolved, failed,
// or why an attempt failed.
var accessOutcomes = append([]string{events.OutcomeResolved, events.OutcomeFailed}, events.FailureOutcomes...)

// accessFilterOf reads the company access events' filters: secretId, consumer
// (targetType/targetId), outcome, from and to (RFC 3339).
func accessFilterOf(r *http.Request) (queries.AccessFilter, error) {
	q := r.URL.Query()
	f := queries.AccessFilter{SecretID: q.Get("secretId"), Consumer: q.Get("consumer"), Outcome: q.Get("outcome")}
	if f.SecretID != "" && !isULID(f.SecretID) {
		return f, ledgererr.New(ledgererr.BadRequest, "secretId must be a secret id (a ULID)")
	}
	if len(f.Consumer) > 2*MaxParamBytes || (f.Consumer != "" && !strings.Contains(f.Consumer, "/")) {
		return f, ledgererr.New(ledgererr.BadRequest, "consumer must be targetType/targetId")
	}
	if f.Outcome != "" && !slices.Contains(accessOutcomes, f.Outcome) {
		return f, ledgererr.New(ledgererr.BadRequest, "outcome must be one of %s", strings.Join(accessOutcomes, ", "))
	}
	var err error
	if f.From, err = timeParam(r, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(r, "to"); err != nil {
		return f, err
	}
	return f, nil
}

type accessOut struct {
	ID         string    `json:"id"`
	Position   int64     `json:"position"`
	SecretID   string    `json:"secretId"`
	Version    *int      `json:"version"`
	ActorType  string    `json:"actorType"`
	ActorID    string    `json:"actorId"`
	Consumer   string    `json:"consumer"`
	ConfigPath string    `json:"configPath"`
	RunID      *string   `json:"runId"`
	IssueID    *string   `json:"issueId"`
	Outcome    string    `json:"outcome"`
	ErrorCode  *string   `json:"errorCode"`
	CreatedAt  time.Time `json:"createdAt"`
	Source     *string   `json:"source"`
}

func accessJSON(e queries.AccessEvent) accessOut {
	return accessOut{ID: e.EventID, Position: e.Position, SecretID: e.SecretID, Version: e.Version, ActorType: e.ActorType,
		ActorID: e.ActorID, Consumer: e.Consumer, ConfigPath: e.ConfigPath, RunID: e.RunID, IssueID: e.IssueID,
		Outcome: e.Outcome, ErrorCode: e.ErrorCode, CreatedAt: e.RecordedAt, Source: e.Source}
}
