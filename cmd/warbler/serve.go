package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/federation"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/internal/signingkey"
	"github.com/warbler-im/warbler/media"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

func serve(args []string, stderr io.Writer) error {
	fs, configPath := newFlags("serve", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	setupLogging(cfg.Logging, stderr)
	setProcs(cfg.Database)
	setGCPercent(cfg.Memory)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runServer(ctx, cfg)
}

func setupLogging(cfg config.Logging, out io.Writer) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	slog.SetDefault(slog.New(h))
}

// runServer starts the listeners and blocks until ctx ends, then shuts down
// cleanly: in-flight requests finish (up to http.shutdown_timeout) and the
// database is closed.
func runServer(ctx context.Context, cfg config.Config) error {
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	key, created, err := signingkey.LoadOrCreate(cfg.SigningKey.File)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	if created {
		slog.Info("generated a new signing key", "key_id", key.ID, "file", cfg.SigningKey.File)
	}
	if err := federation.PublishCurrentKey(ctx, db, key.ID, key.Public(), time.Now()); err != nil {
		return fmt.Errorf("publishing signing key: %w", err)
	}
	warnAboutTestSettings(cfg)
	// Registration sessions live in memory, so none survived the last stop:
	// uses they had reserved on registration tokens are free again.
	if err := db.ResetPendingRegistrations(ctx); err != nil {
		return fmt.Errorf("resetting registration token counts: %w", err)
	}
	rooms, err := roomserver.New(db, roomserver.Config{ServerName: cfg.ServerName, KeyID: key.ID, PrivateKey: key.Private})
	if err != nil {
		return fmt.Errorf("starting the roomserver: %w", err)
	}
	api, err := newClientAPI(cfg, db, rooms)
	if err != nil {
		return err
	}
	defer api.Close() // before db.Close: it writes what it holds in memory
	mediaAPI, err := newMediaAPI(cfg, db, api)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fed, err := newFederation(cfg, db, key)
	if err != nil {
		return err
	}
	// One decision seam for every path on which data leaves; it allows
	// everything until residency policies exist.
	var decider policy.Decider = policy.AllowAll{}
	// The sender outlives the signal: requests still finishing while the
	// listeners shut down commit events it must queue. The deferred Stop
	// (after shutdown returns) ends it.
	sender, inbound, err := fed.StartTransactions(context.WithoutCancel(ctx), federation.TransactionsConfig{
		ServerName: cfg.ServerName, Store: db, Rooms: rooms, Policy: decider,
		Backoff: federation.BackoffSchedule(cfg.Federation.RetryBackoffBase.Std(), cfg.Federation.RetryBackoffMax.Std()),
	})
	if err != nil {
		return err
	}
	defer sender.Stop()
	pushes, err := wirePushGateways(cfg, api, decider, reg)
	if err != nil {
		return err
	}
	if pushes != nil {
		defer pushes.Close()
	}
	wireFederationReads(cfg, fed, db, rooms, api, mediaAPI, decider)
	wireMembership(cfg, db, key, rooms, api, fed, decider, sender)
	wireEphemeralEDUs(db, rooms, api, sender, inbound)
	if err := wireE2EE(cfg.ServerName, fed, db, rooms, api, sender, inbound); err != nil {
		return err
	}
	fed.Routes.OpenID = api.OpenIDUserInfo // federation /openid/userinfo (clientapi/openid.go)
	// Room discovery across servers: spaces, room summaries, directories.
	fed.Routes.Directory = api
	api.RemoteDirectory = &federation.DiscoveryFetcher{ServerName: cfg.ServerName, Client: fed.Client}
	handler := newRouter(cfg, db, api, mediaAPI, fed.Routes, reg)
	servers, err := startListeners(cfg, handler, reg)
	if err != nil {
		return err
	}
	slog.Info("warbler is running", "server_name", cfg.ServerName, "version", versionString())
	<-ctx.Done()
	slog.Info("shutting down")
	return shutdown(servers, cfg.HTTP.ShutdownTimeout.Std())
}

func warnAboutTestSettings(cfg config.Config) {
	if cfg.Federation.InsecureSkipVerify {
		slog.Warn("federation.insecure_skip_verify is ON: outbound TLS certificates are NOT verified. Test deployments only!")
	}
	if cfg.Push.AllowHTTPGateways {
		slog.Warn("push.allow_http_gateways is ON: notifications may go to push gateways over plain HTTP. Test deployments only!")
	}
	if cfg.Registration.Enabled && !cfg.Registration.RequireToken {
		slog.Warn("registration.enabled is on: anyone who can reach this server can create an account")
	}
	if cfg.Registration.RequireToken && !cfg.Registration.Enabled {
		slog.Warn("registration.require_token has no effect while registration.enabled is off")
	}
	if !cfg.RateLimits.Enabled {
		slog.Warn("rate_limits.enabled is off: login, registration, sending and joins are not throttled")
	}
}

// newRouter builds the one handler every listener serves.
func newRouter(cfg config.Config, db storage.Database, api *clientapi.API, mediaAPI *media.API, fed *federation.Routes, reg *prometheus.Registry) http.Handler {
	r := chi.NewRouter()
	r.Use(mxhttp.Recover, mxhttp.LogAndMeasure(mxhttp.NewMetrics(reg)), mxhttp.CORS)
	r.NotFound(mxhttp.NotFound)
	r.MethodNotAllowed(mxhttp.MethodNotAllowed)
	// Media routes set their own body limits: uploads may be far larger
	// than http.max_request_bytes, which bounds everything else.
	mediaAPI.Mount(r)
	fed.MountOwnLimits(r) // inbound transactions: up to federation.MaxTransactionBytes
	r.Group(func(r chi.Router) {
		r.Use(mxhttp.LimitBody(cfg.HTTP.MaxRequestBytes))
		mountBounded(r, cfg, db, api, fed, reg)
	})
	return r
}

// mountBounded registers every endpoint but media's, under the global body
// limit.
func mountBounded(r chi.Router, cfg config.Config, db storage.Database, api *clientapi.API, fed *federation.Routes, reg *prometheus.Registry) {
	api.Mount(r)
	fed.Mount(r)
	if cfg.Metrics.Enabled && cfg.Metrics.Listen == "" {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
}

// newFederation sets up the federation client, the keyring of other
// servers' keys and the federation endpoints.
func newFederation(cfg config.Config, db storage.Database, key signingkey.Key) (*federation.Federation, error) {
	fed, err := federation.New(federation.Config{
		ServerName: cfg.ServerName, KeyID: key.ID, PrivateKey: key.Private,
		KeyValidity: cfg.SigningKey.Validity.Std(), Store: db,
		TrustedCAFile: cfg.Federation.TrustedCAFile, InsecureSkipVerify: cfg.Federation.InsecureSkipVerify,
		AllowedNetworks: cfg.Federation.AllowedNetworks, KeyNotaries: cfg.Federation.KeyNotaries,
		WellKnownServer: cfg.WellKnown.Server,
	})
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	return fed, nil
}

// newMediaAPI sets up the content repository; it authenticates with the
// client API's access tokens.
func newMediaAPI(cfg config.Config, db storage.Database, api *clientapi.API) (*media.API, error) {
	files, err := media.NewFileStore(cfg.Media.Dir)
	if err != nil {
		return nil, err
	}
	previews, err := newPreviewer(cfg)
	if err != nil {
		return nil, err
	}
	return &media.API{
		ServerName: cfg.ServerName, Store: db, Files: files,
		MaxUploadBytes: cfg.Media.MaxUploadBytes, MaxRequestBytes: cfg.HTTP.MaxRequestBytes,
		LegacyUnauthenticated: cfg.Media.LegacyUnauthenticated,
		UnusedExpiry:          cfg.Media.UnusedExpiry.Std(), MaxPendingUploads: cfg.Media.MaxPendingUploads,
		CreateLimit: optionalLimiter(cfg.RateLimits.Enabled, cfg.Media.CreateRateLimit),
		Previews:    previews,
		RequireAuth: api.RequireAuth,
		UserID: func(ctx context.Context) (string, bool) {
			s, ok := clientapi.SessionFrom(ctx)
			return s.UserID, ok
		},
	}, nil
}

// newPreviewer is nil, turning /preview_url off, unless enabled.
func newPreviewer(cfg config.Config) (*media.Previewer, error) {
	p := cfg.Media.URLPreview
	if !p.Enabled {
		return nil, nil
	}
	return media.NewPreviewer(p.AllowedNetworks, optionalLimiter(cfg.RateLimits.Enabled, p.RateLimit))
}

// optionalLimiter is nil, which limits nothing, when rate limiting is off.
func optionalLimiter(enabled bool, l config.RateLimit) *ratelimit.Limiter {
	if !enabled {
		return nil
	}
	return ratelimit.New(l.PerSecond, l.Burst)
}

// startListeners opens every configured listener before serving on any, so
// a port conflict fails the start instead of leaving a half-running server.
func startListeners(cfg config.Config, handler http.Handler, reg *prometheus.Registry) ([]*http.Server, error) {
	type listener struct {
		name, addr string
		handler    http.Handler
		tls        bool
	}
	var wanted []listener
	if cfg.Listen.Client != "" {
		wanted = append(wanted, listener{"client", cfg.Listen.Client, handler, false})
	}
	if cfg.Listen.Federation != "" {
		wanted = append(wanted, listener{"federation", cfg.Listen.Federation, handler, true})
	}
	if cfg.Metrics.Enabled && cfg.Metrics.Listen != "" {
		wanted = append(wanted, listener{"metrics", cfg.Metrics.Listen, metricsHandler(cfg.Metrics, reg), false})
	}
	var servers []*http.Server
	var listeners []net.Listener
	for _, l := range wanted {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll(listeners)
			return nil, fmt.Errorf("listen.%s %s: %w", l.name, l.addr, err)
		}
		if l.tls {
			if ln, err = wrapTLS(ln, cfg); err != nil {
				closeAll(append(listeners, ln))
				return nil, err
			}
		}
		listeners = append(listeners, ln)
		servers = append(servers, newHTTPServer(l.handler))
	}
	for i, srv := range servers {
		go serveOn(srv, listeners[i], wanted[i].name)
	}
	return servers, nil
}

// metricsHandler serves the separate metrics listener: Prometheus, and
// the profiler if asked for.
func metricsHandler(cfg config.Metrics, reg *prometheus.Registry) http.Handler {
	prom := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if !cfg.Pprof {
		return prom
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", prom)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
}

func serveOn(srv *http.Server, ln net.Listener, name string) {
	slog.Info("listening", "listener", name, "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("listener stopped", "listener", name, "err", err)
		// A listener dying leaves the server unreachable; stop the process
		// so a supervisor restarts it rather than leaving it half up.
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Signal(syscall.SIGTERM)
	}
}

func closeAll(listeners []net.Listener) {
	for _, ln := range listeners {
		ln.Close()
	}
}

func shutdown(servers []*http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
