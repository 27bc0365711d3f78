package app

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on LEDGER_PPROF_ADDR
	"syscall"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/console"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/queries"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// newHTTPServer is the API's server: the router over the API's handlers, the readiness
// checks, the console and, unless it has its own listener, /metrics.
func (a *App) newHTTPServer() *http.Server {
	s := a.server
	var apiMetrics http.Handler // /metrics on the API's listener unless it has its own
	if s.metricsLn == nil {
		apiMetrics = a.metrics.Handler()
	}
	// A shutdown answers the change feed's waiting polls at once, rather than holding the
	// shutdown for their wait: their clients ask again, of another process or this one
	// restarted, from the position they were given.
	stopping := make(chan struct{})
	srv := &http.Server{
		Handler: httpapi.NewRouter(httpapi.Deps{
			Log:      a.opts.Log,
			Checks:   append(readinessChecks(a.Pool, a.DB), s.bus.check(), integrityCheck(s.signer)),
			Roles:    s.roles.held,
			Requests: a.metrics, Metrics: apiMetrics,
			API:     a.newAPI(stopping),
			Console: a.console(),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // bodies are at most 1 MiB
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         s.tls,
	}
	srv.RegisterOnShutdown(func() { close(stopping) })
	return srv
}

// newAPI is the API's resource handlers over the commands and queries.
func (a *App) newAPI(stopping <-chan struct{}) *httpapi.API {
	cmds, q, s := a.Commands, a.queries, a.server
	// The change feed's polls wake when this process's sealer chains events (the feed
	// reads the sealed log; newHTTPServer runs before the sealer starts, as OnSealed
	// asks).
	appends := queries.NewAppends()
	a.Store.OnSealed(appends.Recorded)
	return &httpapi.API{
		Auth: a, RequestHash: a.Local.Sealer().RequestHash, Answers: a.Store, AnswerSeal: a.integrity,
		Secrets:      httpapi.Secrets{Commands: cmds.Secrets, Queries: q.secrets},
		RemoteImport: httpapi.RemoteImport{Commands: cmds.Importer},
		Providers:    httpapi.Providers{Instances: a.placer.DeploymentProviders(), VaultsOnly: a.placer.VaultsOnlyProviders()},
		Consumers:    httpapi.Consumers{Commands: cmds.Consumers, Queries: q.consumers},
		AccessEvents: httpapi.AccessEvents{Queries: q.consumers},
		AgentKeys:    httpapi.AgentKeys{Commands: cmds.AgentKeys, Queries: q.consumers},
		Resolution:   httpapi.Resolution{Commands: cmds.Resolver},
		Changes:      httpapi.Changes{Queries: queries.Changes{Store: a.Store, DB: a.Pool, Appends: appends}, Stopping: stopping},
		Incidents:    httpapi.Incidents{Commands: cmds.Incidents, Queries: q.freezes},
		LeakScans:    httpapi.LeakScans{Commands: cmds.LeakScans},
		Policies: httpapi.Policies{Commands: cmds.Policies, Queries: queries.ExternalPolicies{DB: a.Pool},
			InstancePrefixes: a.opts.Config.AWS.ExternalPrefixes, InstanceVaultPrefixes: a.opts.Config.Vault.ExternalPrefixes},
		Vaults: httpapi.Vaults{Commands: cmds.Vaults, Queries: q.vaults},
		Events: httpapi.Events{Subscribers: s.bus, Reader: q.events, Sealed: a.Store.SealedThrough},
		Audit:  httpapi.Audit{Queries: audit.Log{DB: a.Pool, RedactionKey: s.signer.Key}, Sealed: a.Store.SealedThrough},
		Ledger: httpapi.Ledger{Companies: queries.Companies{DB: a.Pool}, Status: &queries.Ledger{Store: a.Store, DB: a.Pool}},
	}
}

// console is the browser console, nil when LEDGER_CONSOLE_SESSION_TTL turns it off.
func (a *App) console() func(http.Handler) http.Handler {
	cfg := a.opts.Config
	if cfg.ConsoleSessionTTL == 0 {
		return nil
	}
	return console.New(console.Config{Log: a.opts.Log, DB: a.Pool, Auth: a, Key: a.integrity, SessionTTL: cfg.ConsoleSessionTTL})
}

// startSideServers starts pprof (LEDGER_PPROF_ADDR) and /metrics on its own listener
// (LEDGER_METRICS_ADDR) when configured, and returns the function that closes them.
func (a *App) startSideServers() (stop func()) {
	var closers []func() error
	if addr := a.opts.Config.PprofAddr; addr != "" {
		// Profiling for `bench` runs: on its own loopback listener (config refuses any
		// other address), never on the API's.
		pprofSrv := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { a.opts.Log.Info("pprof listening", "addr", addr, "err", pprofSrv.ListenAndServe()) }()
		closers = append(closers, pprofSrv.Close)
	}
	if ln := a.server.metricsLn; ln != nil {
		metricsSrv := &http.Server{Handler: metricsMux(a.metrics), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { _ = metricsSrv.Serve(ln) }() // ends with Close
		closers = append(closers, metricsSrv.Close)
		a.opts.Log.Info("metrics listening", "addr", ln.Addr().String())
	}
	return func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}
}

// listen binds addr (from the variable name) at start; a taken or bad address is a
// usage error.
func listen(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, usage.Errorf("cannot listen on %s: address already in use (set %s to a free address)", addr, name)
		}
		return nil, usage.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

// metricsMux serves GET /metrics, and nothing else, on LEDGER_METRICS_ADDR.
func metricsMux(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// loadTLS loads the API's certificate when TLS is configured (nil otherwise): at start,
// so that a missing or mismatched pair stops the start instead of every handshake.
func loadTLS(cfg config.Config) (*tls.Config, error) {
	if !cfg.TLS() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, usage.Errorf("cannot load the TLS certificate and key (LEDGER_TLS_CERT_FILE=%s, LEDGER_TLS_KEY_FILE=%s): %w",
			cfg.TLSCertFile, cfg.TLSKeyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
