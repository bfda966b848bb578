package wsapi

import (
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// client is one WebSocket connection. Its readPump is the only reader and
// its writePump the only writer of conn. The sequencer alone sets user and
// calls close; anyone may enqueue.
type client struct {
	id   uint64
	conn *websocket.Conn
	// send queues encoded frames for writePump; it is never closed.
	send chan []byte
	// done is closed, once, to make writePump finish and close conn.
	done chan struct{}

	closeOnce sync.Once
	closeCode int    // written before done is closed
	closeText string // idem
	drain     bool   // idem: write what is queued before closing

	user string // the registered username; owned by the sequencer
}

// enqueue queues a frame without blocking. A client whose queue is full is
// too slow to keep up: it is closed with 1013 so that it delays nobody.
// It reports whether the frame was queued.
func (c *client) enqueue(b []byte) bool {
	select {
	case c.send <- b:
		return true
	default:
		c.close(websocket.CloseTryAgainLater, "too slow: outbound queue full", false)
		return false
	}
}

// close makes writePump send a close frame with code and reason and close
// the connection, after the queued frames if drain is set. Only the first
// call counts.
func (c *client) close(code int, text string, drain bool) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.drain = code, text, drain
		close(c.done)
	})
}

// readPump reads frames and passes them to the sequencer in order, then,
// when the connection ends, tells the sequencer it is gone.
func (s *Server) readPump(c *client) {
	defer s.pumps.Done()
	defer func() { s.ops <- goneOp{c: c} }()

	c.conn.SetReadLimit(s.MaxFrameBytes)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		if s.closing.Load() {
			return nil
		}
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			if !errors.Is(err, websocket.ErrReadLimit) && websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				s.Logger.Debug("read failed", "conn", c.id, "err", err)
			}
			return
		}
		var r *request
		if kind != websocket.TextMessage {
			r = &request{err: reasonf(ErrBadRequest, "binary frames are not supported; send JSON text frames")}
		} else {
			r = decodeRequest(data, s.MaxContentBytes)
		}
		s.ops <- requestOp{c: c, r: r}
	}
}

// writePump writes queued frames and pings until the client is closed.
func (s *Server) writePump(c *client) {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		_ = c.conn.Close()
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		s.pumps.Done()
	}()
	for {
		select {
		case b := <-c.send:
			if err := c.write(b); err != nil {
				return
			}
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-c.done:
			wait := writeWait
			if c.drain {
				if err := c.flush(); err != nil {
					return
				}
			} else {
				// A client dropped for being slow gets little time for the
				// close frame: it is not reading anyway.
				wait = time.Second
			}
			msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
			_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait))
			return
		}
	}
}

// flush writes every frame queued now.
func (c *client) flush() error {
	for {
		select {
		case b := <-c.send:
			if err := c.write(b); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (c *client) write(b []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}
