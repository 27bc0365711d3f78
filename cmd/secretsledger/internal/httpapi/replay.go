package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// Answers keeps the answers of commands sent with an Idempotency-Key (the event store
// over its ledger_idempotent_answers table), so that a retry is answered from them
// before the command decides anything: a retry of a create finds the name taken, of a
// delete the binding gone, of an issue a credential it cannot show again, and only
// the first answer is right.
type Answers interface {
	KeepAnswer(ctx context.Context, caller, key string, requestHash, sealed []byte) error
	// KeptAnswer is the sealed answer kept for the same request hash; the key kept for
	// another request is an ECONFLICT error.
	KeptAnswer(ctx context.Context, caller, key string, requestHash []byte) (sealed []byte, found bool, err error)
}

// AnswerSeal encrypts kept answers under key material outside the database (the
// instance's integrity key): an answer may hold a credential shown once.
type AnswerSeal interface {
	SealAnswer(plain, aad []byte) ([]byte, error)
	OpenAnswer(sealed, aad []byte) ([]byte, error)
}

// keptHeaders are the answer headers a replay gives again; X-Request-Id is the retry's
// own, and Idempotent-Replayed is added.
var keptHeaders = []string{"Content-Type", "Cache-Control", "Location", "X-Ledger-Position"}

// keptAnswer is an answer as it is sealed.
type keptAnswer struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header"`
	Body   []byte            `json:"body"`
}

// idempotentRoutes are the operations ("POST /api/…" with the document's path
// template) whose document offers Idempotency-Key: the document says which commands
// replay, and the router follows it.
var idempotentRoutes = sync.OnceValues(func() (map[string]bool, error) {
	doc, err := loadOpenAPI(context.Background())
	if err != nil {
		return nil, err
	}
	routes := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil && p.Value.In == "header" && p.Value.Name == "Idempotency-Key" {
					routes[method+" "+path] = true
				}
			}
		}
	}
	return routes, nil
})

// replays reports whether r's route is one that replays its answers.
func replays(r *http.Request) (bool, error) {
	route := mux.CurrentRoute(r)
	if route == nil {
		return false, nil
	}
	tpl, err := route.GetPathTemplate()
	if err != nil {
		return false, nil
	}
	routes, err := idempotentRoutes()
	if err != nil {
		return false, err
	}
	return routes[r.Method+" "+tpl], nil
}

// caller names whom a kept answer belongs to: a key is one caller's, and an answer
// (which may hold a credential) is given again to that caller only.
func caller(a actor.Actor) string { return a.Type + ":" + a.ID }

// fingerprint is the keyed hash that tells a retry from another request with the same
// key: the caller, method, path and body.
func (g *gate) fingerprint(r *http.Request, a actor.Actor, body []byte) []byte {
	fp := append([]byte(caller(a)+"\n"+r.Method+" "+r.URL.Path+"\n"), body...)
	return g.requestHash(fp)
}

// once runs h for a command route sent with an Idempotency-Key unless the key has an
// answer kept already: the same request (same caller, route and body) gets that answer
// again with Idempotent-Replayed: true, another request 409. It is decided before the
// command reads the body or looks at anything, and it writes nothing. A first answer
// of 2xx is kept, sealed, before it is sent; a refusal is not (a retry decides again,
// and a refused request wrote nothing).
func (g *gate) once(w http.ResponseWriter, r *http.Request, a actor.Actor, h handler) error {
	if g.answers == nil || r.Header.Get("Idempotency-Key") == "" {
		return h(w, r, a)
	}
	if ok, err := replays(r); err != nil || !ok {
		if err != nil {
			return err
		}
		return h(w, r, a)
	}
	key, err := idempotencyKey(r)
	if err != nil || key == "" {
		if err != nil {
			return err
		}
		return h(w, r, a)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	hash := g.fingerprint(r, a, body)
	aad := []byte(caller(a) + "\x00" + key)
	sealed, found, err := g.answers.KeptAnswer(r.Context(), caller(a), key, hash)
	if err != nil {
		return err
	}
	if found {
		return g.replay(w, sealed, aad)
	}
	k := &keeper{ResponseWriter: w}
	err = h(k, r, a)
	if err == nil && k.status >= 200 && k.status <= 299 && w.Header().Get("Idempotent-Replayed") == "" {
		g.keep(r.Context(), key, caller(a), hash, aad, k)
	}
	k.flush()
	return err
}

// replay writes a kept answer again.
func (g *gate) replay(w http.ResponseWriter, sealed, aad []byte) error {
	plain, err := g.seal.OpenAnswer(sealed, aad)
	if err != nil {
		return fmt.Errorf("httpapi: open a kept answer: %w", err)
	}
	var ans keptAnswer
	if err := json.Unmarshal(plain, &ans); err != nil {
		return fmt.Errorf("httpapi: decode a kept answer: %w", err)
	}
	for name, v := range ans.Header {
		w.Header().Set(name, v)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(ans.Status)
	_, _ = w.Write(ans.Body)
	return nil
}

// keep seals and keeps an answer already sent. Failing to keep it cannot undo the
// answer: it is logged, and a retry then decides again (the commands' own appends
// still refuse to write twice under one key).
func (g *gate) keep(ctx context.Context, key, who string, hash, aad []byte, k *keeper) {
	ans := keptAnswer{Status: k.status, Header: map[string]string{}, Body: k.body.Bytes()}
	for _, name := range keptHeaders {
		if v := k.Header().Get(name); v != "" {
			ans.Header[name] = v
		}
	}
	plain, err := json.Marshal(ans)
	if err == nil {
		var sealed []byte
		if sealed, err = g.seal.SealAnswer(plain, aad); err == nil {
			err = g.answers.KeepAnswer(context.WithoutCancel(ctx), who, key, hash, sealed)
		}
	}
	if err != nil {
		g.log.Warn("an idempotent answer was not kept; a retry decides again", "err", err)
	}
}

// keeper holds a command's answer until it is kept, then passes it on: a client that
// has the whole answer can count on a retry finding it (a retry sent while the first
// request is still under way is the commands' to settle, as without a kept answer).
type keeper struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (k *keeper) WriteHeader(status int) {
	if k.status == 0 {
		k.status = status
	}
}

func (k *keeper) Write(b []byte) (int, error) {
	if k.status == 0 {
		k.status = http.StatusOK
	}
	return k.body.Write(b)
}

// flush passes on what the handler wrote, if anything.
func (k *keeper) flush() {
	if k.status == 0 {
		return
	}
	k.ResponseWriter.WriteHeader(k.status)
	_, _ = k.ResponseWriter.Write(k.body.Bytes())
}
