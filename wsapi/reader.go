package wsapi

import (
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// The read side of a connection: one goroutine, readPump, at a time.

// readPump reads frames and hands them to the connection's session in
// order, then, when the connection ends, ends the session.
//
// An idle connection is this goroutine parked, so it parks with a small
// stack: it waits for data in batchConn.await, which needs little stack,
// and reads frames through gorilla (which needs more) only once data has
// come. When everything received has been read, it goes on in a new
// goroutine, whose stack has not grown, and this one ends: an idle
// connection holds a goroutine of the smallest stack whatever it did
// before. Pongs to the server's pings arrive on idle connections; they are
// dropped here (batchConn.dropPongs) rather than read through gorilla,
// which would then wait for the next message inside its read. A ping from
// the client, or a pong split across reads, still goes through gorilla.
func (s *Server) readPump(c *client) {
	for c.batch.await() > 0 {
		s.heard(c, time.Now())
		if !c.batch.idle() {
			break
		}
	}
	if s.readMessages(c) {
		go s.readPump(c)
	}
}

// readMessages reads frames and passes them on until all that was received
// is read (true), or the connection ends (false).
//
//go:noinline
func (s *Server) readMessages(c *client) bool {
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			s.readFailed(c, err)
			s.endReading(c)
			return false
		}
		if !s.readFrame(c, kind, data) {
			s.endReading(c)
			return false
		}
		if c.batch.dropPongs() > 0 {
			s.heard(c, time.Now())
		}
		if c.batch.idle() {
			return true
		}
	}
}

// endReading ends c's session: its reader has stopped.
func (s *Server) endReading(c *client) {
	c.session.End()
	close(c.readerDone)
	s.pumps.Done()
}

// startReading sets c's read limit, deadline, pong and close handlers and
// rate limiter.
func (s *Server) startReading(c *client) {
	c.conn.SetReadLimit(s.MaxFrameBytes)
	s.heard(c, time.Now())
	c.conn.SetPongHandler(func(string) error {
		s.heard(c, time.Now())
		return nil
	})
	c.conn.SetCloseHandler(c.closeReceived)
	if s.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(s.RateLimit), max(s.RateBurst, 1))
	}
}

// heard extends c's read deadline: any frame from the client, a pong or a
// message, shows that it is alive. For messages it does so at most every
// heardEvery, which saves a call into the runtime's poller per message at
// the cost of a silence allowance up to heardEvery shorter. Unless the
// server is shutting down: Shutdown sets closing, then every reader's
// deadline to now, so a deadline set here after that is put back.
func (s *Server) heard(c *client, now time.Time) {
	c.heardAt = now
	_ = c.conn.SetReadDeadline(now.Add(s.PongWait))
	if s.closing.Load() {
		_ = c.conn.SetReadDeadline(time.Now())
	}
}

// readFailed ends c's reads after err: it notes the client's close frame
// for the close path to answer, or closes after a frame the server refuses
// (1009 too large, 1002 a protocol error), or, after a timeout or a broken
// connection, leaves the close to the session's end (chat.CloseGone).
//
//go:noinline
func (s *Server) readFailed(c *client, err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		// The client's close frame: the close path answers it with the
		// same code once the answers queued before it are sent.
		c.clientCode = ce.Code
		s.Logger.Debug("client closed", append(c.who(), "code", ce.Code)...)
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has sent 1009, except for a length with the top bit set
		// (it counts as negative): then the close path sends it.
		s.Logger.Debug("frame too large", append(c.who(), "max", s.MaxFrameBytes)...)
		c.close(websocket.CloseMessageTooBig, "frame too large", false)
		c.linger()
	case errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, io.EOF):
		// A deadline (keepalive, shutdown) or a broken connection.
		s.Logger.Debug("read ended", append(c.who(), "err", err)...)
	default:
		// A protocol error: gorilla has sent 1002 with the reason (or,
		// for errBadClose, the close path sends it).
		s.Logger.Debug("protocol error", append(c.who(), "err", err)...)
		c.close(websocket.CloseProtocolError, chat.Truncate(strings.TrimPrefix(err.Error(), "websocket: "), maxCloseText), false)
		c.linger()
	}
}

// maxCloseText bounds a close frame's reason before Truncate's 3-byte
// ellipsis: a control frame's payload is at most 125 bytes, 2 of them the
// code.
const maxCloseText = 125 - 2 - len("…")

// errBadClose is the protocol error of a close frame whose payload is one
// byte: a code needs two (RFC 6455 5.5.1).
var errBadClose = errors.New("websocket: close frame with a 1-byte payload")

// closeReceived is c's close handler. It refuses a close frame with a
// 1-byte payload (gorilla v1.5.3 takes it as a close without a code), and
// does not echo the close at once as gorilla's default does: the close
// path (closeConn) echoes it after the answers to the requests before it.
func (c *client) closeReceived(code int, text string) error {
	if code == websocket.CloseNoStatusReceived && c.batch.watch.badClose {
		return errBadClose
	}
	return nil
}

// readFrame decodes a frame, applies the rate limit and submits the
// request to c's session. It reports false when the connection is to
// close.
//
//go:noinline
func (s *Server) readFrame(c *client, kind int, data []byte) bool {
	received := time.Now()
	if received.Sub(c.heardAt) >= s.heardEvery {
		s.heard(c, received)
	}
	var r *chat.Request
	if kind != websocket.TextMessage {
		r = &chat.Request{Err: chat.Reasonf(chat.ErrBadRequest, "binary frames are not supported; send JSON text frames")}
	} else {
		r = decodeRequest(data, s.MaxContentBytes)
	}
	r.Received = received
	if c.limiter != nil && !c.limiter.AllowN(s.Now(), 1) {
		if c.refused++; c.refused > maxRefused {
			s.Logger.Warn("connection closed: kept flooding", append(c.who(), "refused", c.refused)...)
			c.close(websocket.ClosePolicyViolation, "rate limit exceeded", true)
			c.linger()
			return false
		}
		r.Err = chat.Reasonf(chat.ErrRateLimited, "too many requests: slow down to %g per second", s.RateLimit)
	} else {
		c.refused = 0
	}
	c.session.Submit(r)
	return true
}

// lingerWait bounds how long a closing connection waits for the client's
// side of the closing handshake.
const lingerWait = time.Second

// linger reads and drops what the client still sends after the server has
// decided to close, until the client's close frame has come, the client
// closes, or lingerWait passes. Closing a socket with unread input makes
// the kernel send a reset, which can destroy the close frame before the
// client reads it; once the client's close frame is in, nothing is left
// to protect.
func (c *client) linger() {
	_ = c.conn.SetReadDeadline(time.Now().Add(lingerWait))
	c.batch.discardUntilClose()
}

// maxRefused is how many requests in a row a connection may send over its
// rate limit before it is closed with 1008.
const maxRefused = 100
