package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/webclient"
	"github.com/chateau/chateau/projection"
	"github.com/chateau/chateau/wsapi"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// shutdownGrace bounds how long a stopping server waits for connections to
// take their last answers before closing them outright.
const shutdownGrace = 10 * time.Second

// ServeCommand runs the chat server.
type ServeCommand struct {
	Stdout, Stderr io.Writer
}

// Run opens (creating and migrating) the data file, rebuilds the
// projections, and serves /ws until ctx is done.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := fs.String("data", "chateau.db", "data file (created if missing)")
	addr := fs.String("addr", "localhost:8888", "address to listen on (the public listener)")
	adminAddr := fs.String("admin-addr", "", "TCP address of the admin listener (metrics, backup); by default a unix socket beside the data file, -data plus .sock")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	requirePassword := fs.Bool("require-password", false, "refuse (401) registrations without a password")
	rateLimit := fs.Float64("rate-limit", 20, "requests per second per connection; 0 turns the limit off")
	rateBurst := fs.Int("rate-burst", 40, "requests a connection may send at once above -rate-limit")
	maxConns := fs.Int("max-conns", 10000, "open connections; upgrades beyond get HTTP 503 (0: no limit)")
	origins := fs.String("allowed-origins", "", "comma-separated browser origins allowed besides the server's own (* for any)")
	maxFrame := fs.Int64("max-frame-bytes", wsapi.DefaultMaxFrameBytes, "largest WebSocket frame; larger ones close the connection with 1009")
	maxContent := fs.Int("max-content-bytes", wsapi.DefaultMaxContentBytes, "largest message content; larger gets 413")
	sendQueue := fs.Int("send-queue", wsapi.DefaultSendQueue, "frames queued per connection before a slow client is dropped (1013)")
	noSync := fs.Bool("unsafe-no-fsync", false, "UNSAFE, for benchmarks only: do not fsync commits; a crash loses acknowledged messages")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	switch {
	case *rateLimit < 0:
		return usagef("serve: -rate-limit must not be negative")
	case *rateLimit > 0 && *rateBurst < 1:
		return usagef("serve: -rate-burst must be at least 1")
	case *maxConns < 0:
		return usagef("serve: -max-conns must not be negative")
	case *maxFrame < 1024:
		return usagef("serve: -max-frame-bytes must be at least 1024")
	case *maxContent < 1 || int64(*maxContent) > *maxFrame:
		return usagef("serve: -max-content-bytes must be between 1 and -max-frame-bytes")
	case *sendQueue < 1:
		return usagef("serve: -send-queue must be at least 1")
	}
	logger, err := newLogger(c.Stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}

	// Listen first, so that /healthz answers during a long replay and
	// /readyz tells when it is over; /ws refuses (503) until then.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := wsapi.NewMetrics(reg)
	coreMetrics := chat.NewMetrics(reg)
	var ready atomic.Pointer[serving]
	public := serveOn(ln, newMux(&ready))

	if *noSync {
		logger.Warn("UNSAFE: -unsafe-no-fsync is set: commits are not fsynced and a crash loses acknowledged messages; use it only to measure what durability costs")
	}
	if err := refuseOrphanedPath(*adminAddr, *data); err != nil {
		public.stop(logger)
		return err
	}
	l, applied, err := eventlog.Open(*data, eventlog.Options{UnsafeNoSync: *noSync})
	if err != nil {
		public.stop(logger)
		return explainOpen(err)
	}
	defer l.Close()
	for _, a := range applied {
		logger.Info("applied migration", "version", a.Version, "name", a.Name)
	}
	adminLn, err := listenAdmin(*adminAddr, *data)
	if err != nil {
		public.stop(logger)
		return err
	}
	admin := serveOn(adminLn, newAdminMux(reg, &ready, l, logger))
	defer admin.stop(logger)
	stopWatch := watchDataFile(l, logger, time.Second)
	defer stopWatch()

	state, err := replay(l, logger, coreMetrics)
	if err != nil {
		public.stop(logger)
		return fmt.Errorf("%s: %w", *data, err)
	}

	core := &chat.Core{
		Log:             l,
		State:           state,
		Encode:          wsapi.Encode,
		Logger:          logger,
		Metrics:         coreMetrics,
		RequirePassword: *requirePassword,
		Now:             time.Now,
	}
	core.Start()
	ws := &wsapi.Server{
		Core: core,
		Upgrader: websocket.Upgrader{
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     wsapi.OriginPolicy(splitList(*origins)),
		},
		Logger:          logger,
		Metrics:         metrics,
		MaxFrameBytes:   *maxFrame,
		MaxContentBytes: *maxContent,
		SendQueue:       *sendQueue,
		MaxConns:        *maxConns,
		RateLimit:       *rateLimit,
		RateBurst:       *rateBurst,
		Now:             time.Now,
	}
	ws.Start()
	wsDone := make(chan error, 1)
	public.RegisterOnShutdown(func() {
		// http.Server.Shutdown does not know hijacked connections.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		wsDone <- ws.Shutdown(ctx)
	})
	ready.Store(&serving{ws: ws, log: l})
	logger.Info("listening", "addr", ln.Addr().String(), "admin", adminLn.Addr().String(), "data", *data)

	select {
	case err := <-public.served:
		_ = ws.Shutdown(context.Background())
		core.Stop()
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	public.stop(logger)
	if err := <-wsDone; err != nil {
		logger.Warn("websocket shutdown", "err", err)
	}
	core.Stop() // after every session has ended; the log closes last
	logger.Info("stopped")
	return nil
}

// replay rebuilds the projections from the log, logging its progress.
func replay(l *eventlog.Log, logger *slog.Logger, metrics *chat.Metrics) (*projection.State, error) {
	// The replay allocates much and keeps most of it: collecting less often
	// meanwhile saves a good part of its time.
	gcPercent := debug.SetGCPercent(400)
	defer debug.SetGCPercent(gcPercent)
	start := time.Now()
	state, err := chat.Rebuild(l, func(n int) {
		if time.Since(start) > 2*time.Second {
			logger.Info("replaying log", "events", n)
		}
	})
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	metrics.ReplaySeconds.Set(took.Seconds())
	users, chats, events := state.Counts()
	logger.Info("projections rebuilt", "events", events, "users", users, "chats", chats, "took", took.Round(time.Millisecond))
	return state, nil
}

// httpServing is an HTTP server serving one listener in a goroutine.
type httpServing struct {
	*http.Server
	served chan error // Serve's result
}

func serveOn(ln net.Listener, handler http.Handler) *httpServing {
	s := &httpServing{Server: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}, served: make(chan error, 1)}
	go func() { s.served <- s.Serve(ln) }()
	return s
}

// stop shuts the server down, giving requests in progress shutdownGrace,
// and waits for it.
func (s *httpServing) stop(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("serve", "err", err)
	}
}

// newMux routes the public listener: the web client, /ws (503 until ready
// is set) and the health checks. Nothing here may expose the data file or
// the server's internals (see newAdminMux).
func newMux(ready *atomic.Pointer[serving]) *http.ServeMux {
	mux := http.NewServeMux()
	handleHealth(mux, ready)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		s := ready.Load()
		if s == nil {
			http.Error(w, "starting: replaying the log", http.StatusServiceUnavailable)
			return
		}
		s.ws.ServeHTTP(w, r)
	})
	mux.Handle("/", webclient.Handler())
	return mux
}

// newLogger returns the server's logger: text or JSON lines on w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("serve: -log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("serve: -log-format must be text or json")
}

// explainOpen adds what to do to the errors of opening a data file.
func explainOpen(err error) error {
	if errors.Is(err, eventlog.ErrLocked) {
		return fmt.Errorf("%w; is a chateau server running on it? Stop it first", err)
	}
	return err
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
