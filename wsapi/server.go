// Package wsapi serves Chateau's chat protocol over WebSockets.
//
// A Server decodes client frames, checks them against the projections,
// appends the resulting events to the log, and only once they are durable
// answers the sender and delivers to the other members. One goroutine, the
// sequencer, owns every decision and every append: it takes all requests
// waiting at a time, stores their events in one log transaction (group
// commit), then answers and delivers in log order. So all members of a chat
// see its messages in the same order, the log's, and no answer or delivery
// ever precedes the fsync.
package wsapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
)

// Log is what the server needs of the event log; *eventlog.Log is one.
type Log interface {
	// Append stores data as new events in one transaction and returns their
	// ids; on error nothing is stored.
	Append(data ...[]byte) ([]ulid.ULID, error)
	// Scan calls fn for each record after the given id, in log order.
	Scan(after ulid.ULID, fn func(eventlog.Record) error) error
	// Get calls fn for the record of each id, in the order given.
	Get(ids []ulid.ULID, fn func(eventlog.Record) error) error
}

// writeWait bounds every write to a client.
const writeWait = 10 * time.Second

// maxPending bounds a connection's unanswered requests (see client.pending).
const maxPending = 64

// Defaults of the Server's limits.
const (
	DefaultMaxFrameBytes   = 64 << 10
	DefaultMaxContentBytes = 16 << 10
	DefaultSendQueue       = 1024
	DefaultMaxBatch        = 1024
	DefaultPongWait        = 60 * time.Second
)

// Server serves /ws. Set its fields, call Start, serve it, then call
// Shutdown once. Fields must not change after Start.
type Server struct {
	// Log stores the events; State must already reflect all of it (Rebuild).
	Log   Log
	State *projection.State
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
	// batch may add up to MaxBatch and 64 answers more. The queue holds
	// memory only for what is in it.
	SendQueue int
	// MaxBatch bounds the events stored in one log transaction.
	MaxBatch int
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
	// RequirePassword refuses (401) registrations without a password.
	RequirePassword bool
	// PasswordCost is the Argon2id cost of new password hashes; zero
	// means projection's default.
	PasswordCost projection.PasswordCost
	// Now is the clock of the rate limiter; nil means time.Now.
	Now func() time.Time
	// Metrics receive the server's counts; nil means unregistered ones.
	Metrics *Metrics

	pingPeriod time.Duration // PongWait/2
	heardEvery time.Duration // PongWait/60: see heard

	throttle *loginThrottle // refuses password attempts after wrong ones (throttle.go)

	hashes  *hashQueue   // bounds password hashing, running and waiting (login.go)
	buffers *buffers     // read and write buffers of busy connections (batchConn)
	conns   atomic.Int64 // open and opening connections

	stateMu sync.RWMutex // guards State: the sequencer writes, readers read

	ops     chan op       // to the sequencer, in arrival order per connection
	stop    chan struct{} // closed to stop the sequencer after the pumps
	stopped chan struct{} // closed when the sequencer has returned

	mu      sync.Mutex // guards clients and closing
	clients map[*client]struct{}
	closing atomic.Bool
	pumps   sync.WaitGroup
	nextID  atomic.Uint64
}

// Start fills in defaults and starts the sequencer.
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
	if s.MaxBatch == 0 {
		s.MaxBatch = DefaultMaxBatch
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
	s.hashes = newHashQueue(runtime.GOMAXPROCS(0))
	s.throttle = newLoginThrottle(defaultThrottlePolicy())
	s.buffers = newBuffers()
	s.Upgrader.ReadBufferSize = 0 // gorilla then reads through batchConn.br
	s.ops = make(chan op, s.MaxBatch)
	s.stop = make(chan struct{})
	s.stopped = make(chan struct{})
	s.clients = make(map[*client]struct{})
	seq := newSequencer(s)
	go func() {
		defer close(s.stopped)
		seq.run()
		st := seq.stats
		mean, meanCommit := 0.0, time.Duration(0)
		if st.commits > 0 {
			mean, meanCommit = float64(st.events)/float64(st.commits), st.time/time.Duration(st.commits)
		}
		s.Logger.Info("group commit", "commits", st.commits, "events", st.events,
			"mean_batch", fmt.Sprintf("%.1f", mean), "max_batch", st.maxBatch, "mean_commit", meanCommit)
	}()
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
		s.Logger.Warn("connection refused: too many connections", "remote", r.RemoteAddr, "max", s.MaxConns)
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
		s.Logger.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &client{
		srv:   s,
		id:    s.nextID.Add(1),
		addr:  addressKey(r.RemoteAddr),
		conn:  conn,
		batch: hj.conn,
		out:   newOutbox(s.SendQueue, s.SendQueue+s.MaxBatch+maxPending),
		done:  make(chan struct{}),

		readerDone: make(chan struct{}),
		pending:    make(chan struct{}, max(1, min(maxPending, s.SendQueue/4))),
	}
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
	s.Logger.Info("connection opened", "conn", c.id, "remote", r.RemoteAddr)
	c.ping = time.AfterFunc(s.pingPeriod, c.sendPing)
	go s.readPump(c)
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

// Shutdown stops reading from every connection, lets the sequencer store
// and answer what it has received, closes each connection with 1001, waits
// for the connection goroutines and then stops the sequencer. The caller
// closes the log afterwards. Shutdown returns ctx's error if it expires
// first, after closing the remaining connections outright.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for c := range s.clients {
		// Unblock the reader: it then sends its goodbye to the sequencer,
		// behind every request it has already passed on.
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
	close(s.stop)
	<-s.stopped
	return err
}

// Conns returns the number of open connections.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// View calls fn with the state, which does not change during the call.
// fn must not keep st or call back into the Server.
func (s *Server) View(fn func(st *projection.State)) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	fn(s.State)
}

// Rebuild returns the state of everything in l, applying each event in
// log order. progress, if not nil, is called every 100,000 events.
func Rebuild(l Log, progress func(events int)) (*projection.State, error) {
	st := projection.NewState()
	n := 0
	err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		if err := st.ApplyEncoded(rec.ID, rec.Data); err != nil {
			return err
		}
		n++
		if progress != nil && n%100_000 == 0 {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild projections: %w", err)
	}
	return st, nil
}
