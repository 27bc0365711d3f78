package loadtest

import (
	"net/http"
	"time"

	"github.com/secretsledger/secretsledger/agent"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// newAPI returns a client of the ledger at base as token, holding enough idle
// connections for conns concurrent clients.
func newAPI(base, token string, conns int) *apiclient.Client {
	return apiclient.New(base, token, httpClient(conns))
}

// newAgent returns a client of the runtime routes of the ledger at base as an agent key,
// sized as newAPI's.
func newAgent(base, agentKey string, conns int) *agent.Client {
	return agent.New(base, agentKey, httpClient(conns))
}

func httpClient(conns int) *http.Client {
	tr := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
