package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Authenticator turns a bearer token into an actor.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (actor.Actor, error)
}

// gate is what every resource's routes share: it admits requests (board, agent) and
// builds the requests of commands. Each handler embeds the one the API's routes made.
type gate struct {
	auth Authenticator
	// requestHash is API.RequestHash.
	requestHash func([]byte) []byte
	// answers and seal keep the answers of idempotent commands (replay.go); nil
	// answers leaves replay to the commands' appends alone.
	answers Answers
	seal    AnswerSeal
	log     *slog.Logger
}

type handler func(w http.ResponseWriter, r *http.Request, a actor.Actor) error

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
func (g *gate) board(h handler) http.HandlerFunc { return g.admit(actor.Board, h) }

// agent admits agent keys only: a board token gets 403.
func (g *gate) agent(h handler) http.HandlerFunc { return g.admit(actor.Agent, h) }

// admit authenticates, checks the actor kind, bounds the body, and writes errors.
func (g *gate) admit(kind string, h handler) http.HandlerFunc {
	return g.admitUpTo(kind, MaxBodyBytes, h)
}

// admitUpTo is admit with a body bound of its own (the leak scan's transcripts).
func (g *gate) admitUpTo(kind string, maxBody int64, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := actorOnBehalf(r.Context())
		if err != nil {
			if token := bearerToken(r); token != "" {
				a, err = g.auth.Authenticate(r.Context(), token)
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
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			err = g.once(w, r, a, h)
		}
		if err != nil {
			WriteError(w, g.log, err)
		}
	}
}

// instanceWide says a is a board token for every company: only such a token sees the
// instance itself (its key files, endpoints, deployment, the log's head).
func instanceWide(a actor.Actor) bool { return a.Type == actor.Board && a.Companies == nil }

// decodeCommand reads a command's JSON body strictly into dst and builds its request.
func (g *gate) decodeCommand(r *http.Request, a actor.Actor, dst any) (commands.Request, error) {
	raw, err := decode(r, dst)
	if err != nil {
		return commands.Request{}, err
	}
	return g.request(r, a, raw)
}

// emptyCommand builds the request of a command route that takes no body (nothing, or "{}").
func (g *gate) emptyCommand(r *http.Request, a actor.Actor) (commands.Request, error) {
	raw, err := emptyBody(r)
	if err != nil {
		return commands.Request{}, err
	}
	return g.request(r, a, raw)
}

// decodeOptionalCommand is decodeCommand for a route whose body may be left out.
func (g *gate) decodeOptionalCommand(r *http.Request, a actor.Actor, dst any) (commands.Request, error) {
	raw, err := readBody(r)
	if err != nil {
		return commands.Request{}, err
	}
	if len(raw) > 0 {
		if _, err := decodeBytes(raw, dst); err != nil {
			return commands.Request{}, err
		}
	}
	return g.request(r, a, raw)
}

// request builds the command request: actor, request id, and the idempotency key with
// a keyed fingerprint of caller, method, path and body (the one once compares).
func (g *gate) request(r *http.Request, a actor.Actor, body []byte) (commands.Request, error) {
	req := commands.Request{Actor: a, RequestID: requestIDOf(r)}
	key, err := idempotencyKey(r)
	if err != nil {
		return req, err
	}
	if key != "" {
		req.Idempotency = &eventstore.Idempotency{Key: key, RequestHash: g.fingerprint(r, a, body)}
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

func setPosition(w http.ResponseWriter, pos int64) {
	if pos > 0 {
		w.Header().Set("X-Ledger-Position", strconv.FormatInt(pos, 10))
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
