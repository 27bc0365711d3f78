package console

import (
	"context"
	"net/http"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// apiError is an API answer other than 2xx, or a refusal of the console's own with the
// same shape: its status and a safe message and code.
type apiError = apiclient.Error

// inProcessBase is the address the in-process client's requests name; they never leave
// the process.
const inProcessBase = "http://console.invalid"

// newAPI is a client of the REST API in-process: the same routes, checks, audit and
// answers as a client holding the actor's token gets.
func newAPI(handler http.Handler) *apiclient.Client {
	return apiclient.New(inProcessBase, "", &http.Client{Transport: apiclient.HandlerTransport(handler),
		// A redirect (the router's answer to an unclean path) is an answer like any other
		// that is not 2xx: the page says so rather than following it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
}

// onBehalfOf is the context of a visit's API calls: they act as its actor.
func onBehalfOf(ctx context.Context, a actor.Actor) context.Context {
	return httpapi.OnBehalfOf(ctx, a)
}

// keyed makes a form's repeated post one write.
func keyed(formKey string) apiclient.Option { return apiclient.IdempotencyKey(formKey) }
