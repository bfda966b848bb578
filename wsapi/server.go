// Package wsapi serves Chateau's chat protocol over WebSockets: the
// upgrade, origin and connection limits, each connection's reader and
// writer, its outbound queue, keepalive and closing handshake, and the
// frames' JSON. What a request means is the chat core's (package chat):
// a connection hands each decoded request to its chat.Session, and the
// core sends it frames through the connection's chat.Peer methods.
package wsapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/gorilla/websocket"
)

// writeWait bounds every write to a client.
const writeWait = 10 * time.Second

// maxHeldFactor times the send queue is what may be held back for a
// connection behind its detached answers (chat.Conn.MaxHeld).
const maxHeldFactor = 4

// maxPending bounds a connection's unanswered requests (chat.Conn.Window).
const maxPending = 64

// Defaults of the Server's limits.
const (
	DefaultMaxFrameBytes   = 64 << 10
	DefaultMaxContentBytes = 16 << 10
	DefaultSendQueue       = 1024
	DefaultPongWait        = 60 * time.Second
)

// Server serves /ws. Set its fields, call Start, serve it, then call
// Shutdown once. Fields must not change after Start.
type Server struct {
	// Core decides the requests; it must be started, and stopped only
	// after Shutdown.
	Core *chat.Core
	// Upgrader upgrades HTTP requests; its CheckOrigin decides origins.
	// Start sets its ReadBufferSize to 0: the server buffers reads itself,
	// only while a connection has unread data (batchConn).
	Upgrader websocket.Upgrader
	Logger   *slog.Logger

	// MaxFrameBytes closes a connection (1009) that sends a larger frame.
	MaxFrameBytes int64
	// MaxContentBytes refuses (413) a larger "content".
	MaxContentBytes int
	// SendQueue is each connection's outbound queue, in frames: a client
	// that still has more queued from earlier batches when a new batch
	// sends it frames is disconnected (1013) rather than slow others. One
	// batch may add up to the core's MaxBatch and 64 answers more. The
	// queue holds memory only for what is in it.
	SendQueue int
	// MaxConns refuses upgrades beyond this many open connections with
	// HTTP 503; 0 means no limit.
	MaxConns int
	// RateLimit is each connection's sustained requests per second and
	// RateBurst its bucket; over it a request gets 429. 0 turns it off.
	RateLimit float64
	RateBurst int
	// PongWait is how long a connection may stay silent (no frame at all,
	// pongs included) before it is closed; a ping goes out every half of
	// it, which leaves a client two chances to answer one in time.
	PongWait time.Duration
	// ClientAddr returns the address a connection's log lines name as its
	// client (remote=); nil means r.RemoteAddr. Behind a reverse proxy it
	// may read the client from X-Forwarded-For; it is for the logs only:
	// the login throttle counts r.RemoteAddr.
	ClientAddr func(r *http.Request) string
	// Now is the clock of the rate limiter; nil means time.Now.
	Now func() time.Time
	// Metrics receive the server's counts; nil means unregistered ones.
	Metrics *Metrics

	pingPeriod time.Duration // PongWait/2
	heardEvery time.Duration // PongWait/60: see heard

	buffers *buffers     // read and write buffers of busy connections (batchConn)
	conns   atomic.Int64 // open and opening connections

	mu      sync.Mutex // guards clients, and closing against new clients
	clients map[*client]struct{}
	closing atomic.Bool
	pumps   sync.WaitGroup
	nextID  atomic.Uint64
}

// Start fills in defaults.
func (s *Server) Start() {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.MaxFrameBytes == 0 {
		s.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if s.MaxContentBytes == 0 {
		s.MaxContentBytes = DefaultMaxContentBytes
	}
	if s.SendQueue == 0 {
		s.SendQueue = DefaultSendQueue
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.PongWait == 0 {
		s.PongWait = DefaultPongWait
	}
	s.pingPeriod, s.heardEvery = s.PongWait/2, s.PongWait/60
	if s.Metrics == nil {
		s.Metrics = NewMetrics(nil)
	}
	s.buffers = newBuffers()
	s.Upgrader.ReadBufferSize = 0 // gorilla then reads through batchConn.br
	s.clients = make(map[*client]struct{})
}

// ServeHTTP upgrades the request to a WebSocket and serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !checkHandshake(w, r) {
		return
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if n := s.conns.Add(1); s.MaxConns > 0 && n > int64(s.MaxConns) {
		s.conns.Add(-1)
		s.mu.Unlock()
		s.Logger.Warn("connection refused: too many connections", append(s.remoteAttrs(r), "max", s.MaxConns)...)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	s.pumps.Add(2)
	s.mu.Unlock()
	hj := &hijacker{ResponseWriter: w, pools: s.buffers}
	conn, err := s.Upgrader.Upgrade(hj, r, nil)
	if err != nil {
		// The upgrader has already answered with an HTTP error.
		s.conns.Add(-1)
		s.pumps.Add(-2)
		s.Logger.Debug("upgrade failed", append(s.remoteAttrs(r), "err", err)...)
		return
	}
	c := &client{
		srv:   s,
		id:    s.nextID.Add(1),
		conn:  conn,
		batch: hj.conn,
		out:   newOutbox(s.SendQueue, s.SendQueue+s.Core.MaxBatch+maxPending),
		done:  make(chan struct{}),

		readerDone: make(chan struct{}),
	}
	c.session = s.Core.Open(c, chat.Conn{ID: c.id, Addr: r.RemoteAddr,
		Window: min(maxPending, s.SendQueue/4), MaxHeld: maxHeldFactor * s.SendQueue})
	s.startReading(c)
	s.mu.Lock()
	s.clients[c] = struct{}{}
	if s.closing.Load() {
		// Shutdown began during the upgrade and did not see c: stop its
		// reader as Shutdown stops the others.
		_ = c.conn.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.Metrics.Connections.Inc()
	s.Logger.Info("connection opened", append([]any{"conn", c.id}, s.remoteAttrs(r)...)...)
	c.ping = time.AfterFunc(s.pingPeriod, c.sendPing)
	go s.readPump(c)
}

// remoteAttrs are the log attributes that name r's client: remote, and
// proxy (the TCP peer) when ClientAddr names another address.
func (s *Server) remoteAttrs(r *http.Request) []any {
	if s.ClientAddr != nil {
		if client := s.ClientAddr(r); client != r.RemoteAddr {
			return []any{"remote", client, "proxy", r.RemoteAddr}
		}
	}
	return []any{"remote", r.RemoteAddr}
}

// checkHandshake answers what gorilla (v1.5.3) would accept or answer
// otherwise, and reports whether the upgrade may go on: RFC 6455 4.2.1
// requires HTTP/1.1 or later (gorilla upgrades HTTP/1.0), and 4.2.2 answers
// a version the server does not speak with 426 and the version it does
// (gorilla answers 400).
func checkHandshake(w http.ResponseWriter, r *http.Request) bool {
	if !websocket.IsWebSocketUpgrade(r) {
		return true // gorilla answers 400
	}
	if !r.ProtoAtLeast(1, 1) {
		http.Error(w, "a WebSocket handshake needs HTTP/1.1 or later", http.StatusBadRequest)
		return false
	}
	if !speaksVersion13(r.Header.Values("Sec-WebSocket-Version")) {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported WebSocket version: this server speaks version 13", http.StatusUpgradeRequired)
		return false
	}
	return true
}

// speaksVersion13 reports whether the Sec-WebSocket-Version values name 13.
func speaksVersion13(values []string) bool {
	for _, v := range values {
		for _, token := range strings.Split(v, ",") {
			if strings.TrimSpace(token) == "13" {
				return true
			}
		}
	}
	return false
}

// Shutdown stops reading from every connection, lets the core store and
// answer what it has received, closes each connection with 1001 and waits
// for the connection goroutines. The caller then stops the core and closes
// the log. Shutdown returns ctx's error if it expires first, after closing
// the remaining connections outright.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for c := range s.clients {
		// Unblock the reader: it then ends its session, behind every
		// request it has already passed on.
		_ = c.conn.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()

	pumpsDone := make(chan struct{})
	go func() {
		s.pumps.Wait()
		close(pumpsDone)
	}()
	var err error
	select {
	case <-pumpsDone:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		for c := range s.clients {
			_ = c.conn.Close()
		}
		s.mu.Unlock()
		<-pumpsDone
	}
	return err
}
