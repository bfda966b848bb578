package wsapi

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// client is one WebSocket connection, and the chat core's Peer for it. Its
// readPump is the only reader; its writer (writer.go) runs only while
// there is something to write, so an idle connection has one goroutine.
// The core's sequencer calls Send, Flush and Close; a detached answer's
// goroutine calls Push while the core holds the client's other frames back.
type client struct {
	srv     *Server
	id      uint64
	session *chat.Session
	conn    *websocket.Conn
	batch   *batchConn // conn's connection
	// out queues encoded frames for the writer.
	out *outbox
	// writing is set while a writer goroutine runs (or the connection has
	// finished: then no writer starts again).
	writing atomic.Bool
	// ping sends a ping every pingPeriod (Server.PongWait/2).
	ping *time.Timer
	// done is closed, once, to make the writer finish and close conn.
	done   chan struct{}
	finish sync.Once
	// readerDone is closed when the reader has stopped (endReading).
	readerDone chan struct{}

	closeOnce sync.Once
	closeCode int    // written before done is closed
	closeText string // idem
	drain     bool   // idem: write what is queued before closing

	// Owned by the reader:
	limiter *rate.Limiter // nil without a rate limit
	refused int           // requests refused for the rate since the last one accepted
	heardAt time.Time     // when the read deadline was last extended (heard)
	// clientCode is the code of the client's close frame, if it sent one;
	// the reader sets it before it ends the session, for the close path to
	// echo.
	clientCode int

	// Owned by the core's sequencer (Send, Flush):
	inBatch bool // frames sent in this batch, writer not yet woken
}

// who names c in log lines: its id, and its user once it registered.
func (c *client) who() []any {
	if user := c.session.User(); user != "" {
		return []any{"conn", c.id, "user", user}
	}
	return []any{"conn", c.id}
}

// closeTooSlow closes a client that does not read its frames.
const closeTooSlow = websocket.CloseTryAgainLater

// tooSlow is the reason of closeTooSlow's close frame.
const tooSlow = "too slow: outbound queue full"

// Send implements chat.Peer: it queues b without blocking, and without
// waking the writer (Flush does, once per batch). A client whose queue is
// at its hard limit is too slow to keep up; so is one that, at the batch's
// first frame for it, still has more than SendQueue frames of earlier
// batches waiting (within a batch the queue may grow past SendQueue: a
// batch can bring a member of a busy chat more frames than that at once).
// Either is closed with 1013 so that it delays nobody.
func (c *client) Send(b []byte) bool {
	queued, ok := c.out.push(b)
	if ok && !c.inBatch {
		ok = queued <= c.srv.SendQueue
		c.inBatch = ok
	}
	if !ok {
		c.close(closeTooSlow, tooSlow, false)
		return false
	}
	// The writer starts once the batch is queued, so that a client's
	// frames of one batch go out in one system call; but a client that
	// gets many in one batch has its writer started early, to drain while
	// the rest is queued.
	if queued >= max(1, c.srv.SendQueue/earlyWakeDivisor) {
		c.wake()
	}
	return true
}

// earlyWakeDivisor: a client's writer starts before the end of the batch
// once its queue holds this fraction of SendQueue.
const earlyWakeDivisor = 16

// Flush implements chat.Peer: it starts the writer for the batch's frames.
func (c *client) Flush() {
	c.inBatch = false
	c.wake()
}

// Push implements chat.Peer: it queues b once the queue is below
// SendQueue, for a detached answer, and reports false if the connection
// closes first.
func (c *client) Push(b []byte) bool {
	return c.out.pushWait(b, c.done, c.wake)
}

// Close implements chat.Peer.
func (c *client) Close(why chat.Close) {
	switch why {
	case chat.CloseGone:
		c.close(goneCode(c, c.srv.closing.Load()), "", true)
	case chat.CloseReplaced:
		c.close(websocket.CloseNormalClosure, "session replaced", true)
	case chat.CloseTooSlow:
		c.close(closeTooSlow, tooSlow, false)
	}
}

// goneCode is the close code for a connection whose reader has stopped:
// the client's own code echoed if it sent a close frame (RFC 6455 5.5.1),
// else 1001 while the server shuts down, else 1000.
func goneCode(c *client, shuttingDown bool) int {
	switch {
	case c.clientCode != 0:
		return c.clientCode
	case shuttingDown:
		return websocket.CloseGoingAway
	}
	return websocket.CloseNormalClosure
}

// close makes writePump send a close frame with code and reason and close
// the connection, after the queued frames if drain is set. Only the first
// call counts.
func (c *client) close(code int, text string, drain bool) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.drain = code, text, drain
		close(c.done)
		if !drain {
			// A write blocked on a client that does not read would hold
			// the connection for writeWait; give it lingerWait instead.
			// (The raw connection: its wrapper ignores deadlines while
			// the writer holds it.)
			_ = c.batch.Conn.SetWriteDeadline(time.Now().Add(lingerWait))
		}
		c.wake()
	})
}
