package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/warbler-im/warbler/internal/signingkey"
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler := newRouter(cfg, db, key, reg)
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
	if cfg.Registration.Enabled {
		slog.Warn("registration.enabled is on: anyone who can reach this server can create an account")
	}
}

// newRouter builds the one handler every listener serves.
func newRouter(cfg config.Config, db storage.Database, key signingkey.Key, reg *prometheus.Registry) http.Handler {
	r := chi.NewRouter()
	r.Use(mxhttp.Recover, mxhttp.LogAndMeasure(mxhttp.NewMetrics(reg)), mxhttp.CORS, mxhttp.LimitBody(cfg.HTTP.MaxRequestBytes))
	r.NotFound(mxhttp.NotFound)
	r.MethodNotAllowed(mxhttp.MethodNotAllowed)
	api := &clientapi.API{ServerName: cfg.ServerName, Store: db, ClientBaseURL: cfg.WellKnown.ClientBaseURL}
	api.Mount(r)
	fed := &federation.Routes{
		Keys: &federation.KeyServer{
			ServerName: cfg.ServerName, KeyID: key.ID, Private: key.Private,
			Validity: cfg.SigningKey.Validity.Std(), Store: db, Now: time.Now,
		},
		WellKnownServer: cfg.WellKnown.Server,
	}
	fed.Mount(r)
	if cfg.Metrics.Enabled && cfg.Metrics.Listen == "" {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	return r
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
		wanted = append(wanted, listener{"metrics", cfg.Metrics.Listen, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), false})
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
