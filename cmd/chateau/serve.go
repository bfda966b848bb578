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
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/webclient"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/projection"
	"github.com/chateau/chateau/wsapi"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Timings of a running server.
const (
	// shutdownGrace bounds how long a stopping server waits for
	// connections to take their last answers before closing them outright.
	shutdownGrace = 10 * time.Second
	// readHeaderTimeout bounds how long a client may take to send its
	// request's headers, so that slow or silent clients cannot pile up
	// connections that no handler has seen yet.
	readHeaderTimeout = 10 * time.Second
	// dataFileCheckEvery is how often the server checks that its data file
	// is still at its path: the log and /readyz tell of a deleted or
	// replaced file within it, for one look at the path a second.
	dataFileCheckEvery = time.Second
	// replayLogEvery is how often a start-up replay logs how far it has
	// got, so that a long one is not a silent wait; one shorter than it
	// logs only its result.
	replayLogEvery = time.Second
)

// wsWriteBufferSize is gorilla's write buffer, taken from a pool only while
// a frame is being written. A server's WriteMessage sends one frame
// whatever its size: gorilla copies the header and the first bytes into
// this buffer and writes the rest straight from the message, and wsapi's
// batchConn gathers both writes, and a batch's frames, into one system
// call. So the size matters little: a larger frame costs one more
// in-memory write, and 1 KiB holds a typical answer or delivery while
// keeping the pooled buffers small.
const wsWriteBufferSize = 1024

// ServeCommand runs the chat server.
type ServeCommand struct {
	Stdout, Stderr io.Writer
}

// Run opens (creating and migrating) the data file, rebuilds the
// projections, and serves /ws until ctx is done.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	cfg, err := parseServeConfig(args, c.Stdout)
	if err != nil {
		return err
	}
	logger, err := newLogger(c.Stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	// SIGHUP reloads the TLS certificate. It is caught from the start:
	// its default action would end the server, during the replay too.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := startServer(cfg, logger)
	if err != nil {
		return err
	}
	return s.serveUntil(ctx, hup)
}

// server is a running `chateau serve`: its two listeners, its data file
// and the chat server on it. startServer makes one, serveUntil ends it.
type server struct {
	cfg         serveConfig
	logger      *slog.Logger
	reg         *prometheus.Registry
	metrics     *wsapi.Metrics
	coreMetrics *chat.Metrics
	ready       atomic.Pointer[serving] // set once the replay is done

	certs     *certReloader // the public listener's, if it serves TLS
	public    *httpServing
	log       *eventlog.Log // the data file, or nil on a cluster
	cluster   *clusterNode  // the stream and presence, or nil on a data file
	admin     *httpServing
	stopWatch func()
	core      *chat.Core
	ws        *wsapi.Server
	wsDone    chan error // ws.Shutdown's result, sent by public's shutdown
}

// startServer listens on cfg.addr, then opens the data file and serves
// it: see open. On error it stops what it started.
func startServer(cfg serveConfig, logger *slog.Logger) (*server, error) {
	s := &server{cfg: cfg, logger: logger, reg: prometheus.NewRegistry()}
	// Listen first, so that /healthz answers during a long replay and
	// /readyz tells when it is over; /ws refuses (503) until then.
	ln, err := s.listenPublic()
	if err != nil {
		return nil, err
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = wsapi.NewMetrics(s.reg)
	s.coreMetrics = chat.NewMetrics(s.reg)
	s.public = serveOn(ln, newMux(&s.ready))
	if err := s.open(); err != nil {
		s.public.stop(logger)
		s.closeData()
		return nil, err
	}
	return s, nil
}

// open opens (creating and migrating) the data file, starts the admin
// listener and the watch on the file's path, replays the log and starts
// the chat server, which /ws then reaches. On error, what it opened is in
// s for closeData.
func (s *server) open() error {
	if s.cfg.nats != "" {
		return s.openCluster()
	}
	if s.cfg.noSync {
		s.logger.Warn("UNSAFE: -unsafe-no-fsync is set: commits are not fsynced and a crash loses acknowledged messages; use it only to measure what durability costs")
	}
	if err := refuseOrphanedPath(s.cfg.adminAddr, s.cfg.data); err != nil {
		return err
	}
	l, applied, err := eventlog.Open(s.cfg.data, eventlog.Options{UnsafeNoSync: s.cfg.noSync})
	if err != nil {
		return explainOpen(err)
	}
	s.log = l
	for _, a := range applied {
		s.logger.Info("applied migration", "version", a.Version, "name", a.Name)
	}
	removeStagedBackups(s.cfg.data, s.logger)
	adminLn, err := listenAdmin(s.cfg.adminAddr, s.cfg.data)
	if err != nil {
		return err
	}
	s.admin = serveOn(adminLn, newAdminMux(s.reg, &s.ready, l, s.logger))
	s.stopWatch = watchDataFile(l, s.logger, dataFileCheckEvery)

	state, err := replay(l, s.logger, s.coreMetrics, time.Now)
	if err != nil {
		return fmt.Errorf("%s: %w", s.cfg.data, err)
	}
	s.startChat(l, state, nil, fileWritable(l))
	s.logger.Info("listening", "addr", s.public.ln.Addr().String(), "admin", s.admin.ln.Addr().String(), "data", s.cfg.data, "tls", s.certs != nil)
	return nil
}

// startChat starts the chat server on l and its replayed state, and lets
// /ws reach it.
func (s *server) startChat(l chat.Log, state *projection.State, cluster *clusterNode, writable func() error) {
	s.core, s.ws = newChatServer(s.cfg, l, state, s.logger, s.coreMetrics, s.metrics, cluster)
	s.wsDone = make(chan error, 1)
	s.public.RegisterOnShutdown(func() {
		// http.Server.Shutdown does not know hijacked connections.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		s.wsDone <- s.ws.Shutdown(ctx)
	})
	s.ready.Store(&serving{ws: s.ws, writable: writable})
}

// newChatServer returns the chat server on l and its replayed state, with
// cfg's limits, started: the chat core and the socket server in front of it.
func newChatServer(cfg serveConfig, l chat.Log, state *projection.State, logger *slog.Logger,
	coreMetrics *chat.Metrics, metrics *wsapi.Metrics, cluster *clusterNode) (*chat.Core, *wsapi.Server) {
	core := &chat.Core{
		Log:             l,
		State:           state,
		Encode:          wsapi.Encode,
		Logger:          logger,
		Metrics:         coreMetrics,
		RequirePassword: cfg.requirePassword,
		Now:             time.Now,
	}
	if cluster != nil {
		core.Presence = cluster.presence
		core.Broadcast = cluster.broadcast
		core.MaxBatch = jetlog.MaxBatch
	}
	core.Start()
	ws := &wsapi.Server{
		Core: core,
		Upgrader: websocket.Upgrader{
			WriteBufferSize: wsWriteBufferSize,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     wsapi.OriginPolicy(splitList(cfg.origins)),
		},
		Logger:          logger,
		Metrics:         metrics,
		MaxFrameBytes:   cfg.maxFrame,
		MaxContentBytes: cfg.maxContent,
		SendQueue:       cfg.sendQueue,
		MaxConns:        cfg.maxConns,
		RateLimit:       cfg.rateLimit,
		RateBurst:       cfg.rateBurst,
		Now:             time.Now,
	}
	if len(cfg.trustedProxies) > 0 {
		ws.ClientAddr = cfg.trustedProxies.clientAddr
	}
	ws.Start()
	return core, ws
}

// serveUntil serves until ctx is done, reloading the TLS certificate at
// each value from reload, then shuts down: first the public listener, and
// with it the socket server, which stores and answers what it has received
// and closes every connection; then the chat core; then the data file. If
// the public listener fails instead, it returns its error.
func (s *server) serveUntil(ctx context.Context, reload <-chan os.Signal) error {
	defer s.closeData()
	for done := false; !done; {
		select {
		case err := <-s.public.served:
			_ = s.ws.Shutdown(context.Background())
			s.core.Stop()
			return err
		case <-reload:
			s.reloadCertificate()
		case <-ctx.Done():
			done = true
		}
	}
	s.logger.Info("shutting down")
	s.public.stop(s.logger)
	if err := <-s.wsDone; err != nil {
		s.logger.Warn("websocket shutdown", "err", err)
	}
	s.core.Stop() // after every session has ended; the log closes last
	s.logger.Info("stopped")
	return nil
}

// closeData stops what open started, as far as it got, the log last: the
// watch on its path, the admin listener (whose /backup reads it), the log.
// The chat core, which appends to it, must have stopped.
func (s *server) closeData() {
	if s.stopWatch != nil {
		s.stopWatch()
	}
	if s.admin != nil {
		s.admin.stop(s.logger)
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	if s.cluster != nil {
		s.cluster.close()
	}
}

// replay rebuilds the projections from the log, logging how many events
// it has applied about once every replayLogEvery of now.
func replay(l chat.Log, logger *slog.Logger, metrics *chat.Metrics, now func() time.Time) (*projection.State, error) {
	// The replay allocates much and keeps most of it: collecting less often
	// meanwhile saves a good part of its time.
	gcPercent := debug.SetGCPercent(400)
	defer debug.SetGCPercent(gcPercent)
	start := now()
	logged := start
	// Rebuild reports every 100,000 events, a few tens of milliseconds of
	// replay here: the clock is read that often, never per event.
	state, err := chat.Rebuild(l, func(n int) {
		if t := now(); t.Sub(logged) >= replayLogEvery {
			logged = t
			logger.Info("replaying log", "events", n, "elapsed", t.Sub(start).Round(time.Millisecond))
		}
	})
	if err != nil {
		return nil, err
	}
	took := now().Sub(start)
	metrics.ReplaySeconds.Set(took.Seconds())
	users, chats, events := state.Counts()
	logger.Info("projections rebuilt", "events", events, "users", users, "chats", chats, "took", took.Round(time.Millisecond))
	return state, nil
}

// httpServing is an HTTP server serving one listener in a goroutine.
type httpServing struct {
	*http.Server
	ln     net.Listener
	served chan error // Serve's result
}

func serveOn(ln net.Listener, handler http.Handler) *httpServing {
	s := &httpServing{Server: &http.Server{Handler: handler, ReadHeaderTimeout: readHeaderTimeout}, ln: ln, served: make(chan error, 1)}
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

// explainOpen adds what to do to the errors of opening a data file.
func explainOpen(err error) error {
	if errors.Is(err, eventlog.ErrLocked) {
		return fmt.Errorf("%w; is a chateau server running on it? Stop it first", err)
	}
	return err
}
