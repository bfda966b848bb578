package chat

import "sync/atomic"

// Peer is a connection as the core sees it: where its frames go. The
// sequencer calls Send, Flush and Close; a session's detached answer calls
// Push from its own goroutine.
type Peer interface {
	// Send queues frame without blocking and reports whether it could:
	// false means the connection does not keep up with what it is sent; it
	// is then closing, and the core takes its user offline.
	Send(frame []byte) bool
	// Flush sends what Send queued. The core calls it once per batch for
	// each peer it sent frames to, so that a connection's frames of one
	// batch go out together.
	Flush()
	// Push queues frame for a detached answer (a history page, a replay),
	// waiting while the connection's queue is full; it reports false once
	// the connection is closing.
	Push(frame []byte) bool
	// Close ends the connection, for why.
	Close(why Close)
}

// Close says why the core ends a connection.
type Close int

const (
	// CloseGone answers a connection whose reader has stopped (End), after
	// the frames queued for it.
	CloseGone Close = iota
	// CloseReplaced ends a session whose user signed in from another
	// connection, after the frames queued for it (SessionReplaced last).
	CloseReplaced
	// CloseTooSlow ends a connection that does not take its frames, at once.
	CloseTooSlow
)

// Conn describes a connection to Open.
type Conn struct {
	// ID names the connection in the logs.
	ID uint64
	// Addr is the client's address (host:port), for the login throttle.
	Addr string
	// Window is how many requests the connection may have unanswered;
	// Submit waits beyond, so that the answers of one batch cannot
	// overflow the connection's queue.
	Window int
	// MaxHeld bounds the frames held back behind the connection's detached
	// answers; beyond it the connection counts as too slow.
	MaxHeld int
}

// Session is one connection's conversation with the core. The connection's
// reader calls Submit for each request in order and then End, once; the
// rest of it belongs to the sequencer.
type Session struct {
	core *Core
	peer Peer
	conn Conn
	// addrKey is conn.Addr as the login throttle counts it (addressKey).
	addrKey string
	// window holds a token for each request submitted and not yet answered.
	window chan struct{}
	// name is the username the session registered, for User.
	name atomic.Pointer[string]

	// Owned by the sequencer:
	user     string // the registered username
	wrote    bool   // a request of the batch being filled stores an event (waitsForBatch)
	detached bool   // a detached answer is running (history.go)
	queued   bool   // frames sent in this batch, peer not yet flushed
	held     []held // frames and answers held back behind it
}

// Open starts a session for a connection.
func (c *Core) Open(p Peer, conn Conn) *Session {
	return &Session{core: c, peer: p, conn: conn, addrKey: addressKey(conn.Addr), window: make(chan struct{}, max(1, conn.Window))}
}

// Submit hands r to the sequencer, after the slow part of a registration
// with a password (login.go), here in the caller's goroutine where it
// delays no one else. It waits while the session has Window requests
// unanswered.
func (s *Session) Submit(r *Request) {
	s.core.checkPassword(s, r)
	s.core.checkPasswordChange(s, r)
	s.window <- struct{}{}
	s.core.ops <- requestOp{s: s, r: r}
}

// User returns the username the session registered, or "" before it did;
// a replaced or dropped session keeps the name, for its transport's logs.
// It is safe to call from any goroutine.
func (s *Session) User() string {
	if name := s.name.Load(); name != nil {
		return *name
	}
	return ""
}

// End says the connection's reader has stopped; it follows every Submit.
// The core answers with Close(CloseGone) once what came before is answered.
func (s *Session) End() {
	s.core.ops <- goneOp{s: s}
}
