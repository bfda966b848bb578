package wsapi

import (
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// A connection's writer is a goroutine started when frames are queued (by
// the sequencer once per batch, or earlier when the queue grows: see
// sequencer.send), when a detached answer queues, or when the connection
// is closing; it is gone when the queue is empty: with tens of thousands
// of idle connections, a parked writer goroutine per connection would be
// most of the server's memory. Pings come from a timer.

// wake starts the writer unless one is running.
func (c *client) wake() {
	if c.writing.CompareAndSwap(false, true) {
		go c.srv.write(c)
	}
}

// write sends what is queued until the queue is empty, or closes the
// connection once it is done.
func (s *Server) write(c *client) {
	var frames [][]byte
	for {
		select {
		case <-c.done:
			s.closeConn(c, frames, true)
			return // writing stays set: no writer after the end
		default:
		}
		frames = c.out.take(frames)
		if len(frames) > 0 {
			if err := c.writeAll(frames); err != nil {
				s.closeConn(c, frames, false)
				return
			}
			continue
		}
		c.writing.Store(false)
		// A frame queued, or a close, between the take and the Store found
		// writing set and started no writer: look again.
		if c.out.len() == 0 && !isClosed(c.done) || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// writeAll writes frames and sends them together: one system call for
// what the connection's batchConn can buffer.
func (c *client) writeAll(frames [][]byte) error {
	c.batch.hold(time.Now().Add(writeWait))
	var err error
	for _, b := range frames {
		if err = c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			break
		}
	}
	if ferr := c.batch.release(); err == nil {
		err = ferr
	}
	return err
}

// sendPing pings the client and sets the timer for the next one; the
// reader extends the read deadline when the pong comes (Server.heard).
func (c *client) sendPing() {
	if isClosed(c.done) {
		return
	}
	_ = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
	c.ping.Reset(c.srv.pingPeriod)
}

// closeConn ends the connection, once: the queued frames if the close
// asked for them, a close frame, a moment for the client's side of the
// closing handshake, then the socket. healthy is false after a failed
// write, when none of that can get through.
func (s *Server) closeConn(c *client, spare [][]byte, healthy bool) {
	c.finish.Do(func() {
		c.ping.Stop()
		if healthy && c.drain {
			healthy = c.writeAll(c.out.take(spare)) == nil
		}
		// The code and reason that went on the wire, for the log: 1006 for
		// none. (close set them before it closed done, which a healthy
		// call has seen; after a failed write they are not read.)
		code, reason := websocket.CloseAbnormalClosure, ""
		if healthy {
			wait := writeWait
			if !c.drain {
				// A client closed for being slow or for what it sent gets
				// little time for the close frame: it may not be reading.
				wait = lingerWait
			}
			msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
			err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait))
			if err == nil || errors.Is(err, websocket.ErrCloseSent) {
				// ErrCloseSent: gorilla's reader sent it, with the code
				// the reader then gave close (readFailed).
				code, reason = c.closeCode, c.closeText
				s.awaitClientClose(c)
			}
		}
		_ = c.conn.Close()
		s.Logger.Info("connection closed", append(c.who(), "code", code)...)
		if reason != "" {
			s.Logger.Debug("close reason", append(c.who(), "code", code, "reason", reason)...)
		}
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		s.conns.Add(-1)
		s.Metrics.Connections.Dec()
		s.pumps.Done()
	})
}

// awaitClientClose waits, after the server's close frame, for the
// client's, up to lingerWait: the reader stops when it receives it. Once
// it is in, the handshake is complete and the socket can close at once. A
// reader that stopped before it (shutdown, a broken connection) leaves the
// reading to the writer: input left unread would turn the close into a
// reset, which can destroy the close frame before the client reads it.
func (s *Server) awaitClientClose(c *client) {
	timer := time.NewTimer(lingerWait)
	defer timer.Stop()
	select {
	case <-c.readerDone:
		if !c.batch.watch.closeSeen {
			c.linger()
		}
	case <-timer.C:
	}
}
