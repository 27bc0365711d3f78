package loadtest

import (
	"net/http"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// newAPI returns a client of the ledger at base as token, holding enough idle
// connections for conns concurrent clients.
func newAPI(base, token string, conns int) *apiclient.Client {
	tr := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute}
	return apiclient.New(base, token, &http.Client{Transport: tr, Timeout: 30 * time.Second})
}
