package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// Timeouts of the client side. None of them is reached on a healthy server.
const (
	// setupWait bounds a handshake and each answer during setup.
	setupWait = 10 * time.Second
	// writeWait bounds each write, so that a server that stopped reading
	// cannot hold a sender forever. A sender moves its deadline only when
	// half of it has passed, so a write may get half as long.
	writeWait = 10 * time.Second
	// closeWait is how long closing waits for the server's side of the
	// closing handshake before dropping the sockets.
	closeWait = 2 * time.Second
)

// conn is one WebSocket connection with its reader goroutine. After setup,
// the reader is the only goroutine that reads ws; the owner of the conn (a
// sender, or nobody for a listener) is the only one that writes to it.
type conn struct {
	ws *websocket.Conn
	// done is closed when the reader has returned; nil until it starts.
	done chan struct{}
	// closing is set before the generator closes ws itself, so that the
	// reader can tell that from the server dropping the connection.
	closing atomic.Bool
	// dropped is why the server ended the connection before the generator
	// closed it, or nil; written by the reader before done is closed.
	dropped error
}

// idleReadBuffer is the read buffer of an idle run's connections, small
// because there are many and they read next to nothing. Each connection
// allocates its own when it opens.
const idleReadBuffer = 4 << 10

// loadReadBuffer returns the read buffer of each of a load run's conns
// connections. 64 KiB lets a listener take a burst of deliveries, which
// the server writes in one go, in one system call: at 64 KiB a read takes
// about 35 deliveries, at 4 KiB about 13. A large run gets less, so that
// its buffers stay within 64 MiB, but not below 4 KiB.
func loadReadBuffer(conns int) int {
	return min(64<<10, max(4<<10, (64<<20)/max(conns, 1)))
}

// maxKeptFrame is the largest frame buffer a reader keeps for the next
// frame; a rare larger frame's buffer goes to the garbage collector.
const maxKeptFrame = 64 << 10

// dialWriteBuffer is each bench connection's write buffer, gorilla's
// default. A client masks what it sends, so gorilla writes a message
// through this buffer, one frame per buffer-full: 4 KiB holds a request
// with the default 64-byte content, or one of a few KiB, in one frame.
const dialWriteBuffer = 4096

// newDialer returns the dialer of every bench connection, reading through
// a buffer of readBuffer bytes: no proxy (the numbers are the server's,
// not a proxy's) and a bounded handshake.
func newDialer(readBuffer int) *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: setupWait, ReadBufferSize: readBuffer, WriteBufferSize: dialWriteBuffer}
}

// dialRegister opens a connection to url and registers name on it. It
// reads the answer itself, before any reader goroutine exists.
func dialRegister(ctx context.Context, d *websocket.Dialer, url, name string) (*conn, error) {
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d", resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &conn{ws: ws}
	req := fmt.Appendf(nil, `{"type":"RegisterRequest","username":%q}`, name)
	if err := c.call(req, "RegisterResponse"); err != nil {
		ws.Close()
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	return c, nil
}

// call writes req and reads until an answer without messageID of type want
// or an ErrorResponse arrives, skipping deliveries. Only for setup, while
// no reader goroutine runs.
func (c *conn) call(req []byte, want string) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(setupWait))
	if err := c.ws.WriteMessage(websocket.TextMessage, req); err != nil {
		return err
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(setupWait))
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		var f frame
		if err := decodeFrame(data, &f); err != nil {
			return fmt.Errorf("server sent invalid JSON: %w", err)
		}
		switch {
		case string(f.Type) == "ErrorResponse":
			return fmt.Errorf("%d %s", f.Status, f.Reason)
		case string(f.Type) == want && f.Status == http.StatusOK:
			return nil
		}
	}
}

// startReader runs the connection's reader: it passes every frame to
// handle until the connection ends. The frame's bytes are handle's only
// until it returns: the reader reads the next frame into the same buffer,
// as allocating one per frame would cost more than handling it.
func (c *conn) startReader(handle func(data []byte)) {
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		var buf []byte
		for {
			_, rd, err := c.ws.NextReader()
			if err == nil {
				buf, err = readAll(rd, buf[:0])
			}
			if err != nil {
				if !c.closing.Load() {
					c.dropped = err
				}
				return
			}
			handle(buf)
			if cap(buf) > maxKeptFrame {
				buf = nil
			}
		}
	}()
}

// readAll appends what r yields until EOF to b, as io.ReadAll does to a
// new slice.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// dropKey names why a connection was dropped, for the error counts.
func dropKey(err error) string {
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		return "closed " + strconv.Itoa(ce.Code)
	}
	return "connection lost"
}

// closeConns closes the connections (nil ones are skipped): a close frame
// to each, a short wait for the server's answers, then the sockets. It
// returns when every reader has returned.
func closeConns(conns []*conn) {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, c := range conns {
		if c == nil {
			continue
		}
		c.closing.Store(true)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	deadline := time.After(closeWait)
wait:
	for _, c := range conns {
		if c == nil || c.done == nil {
			continue
		}
		select {
		case <-c.done:
		case <-deadline:
			break wait // the Close below ends the rest
		}
	}
	for _, c := range conns {
		if c != nil {
			c.ws.Close()
		}
	}
	for _, c := range conns {
		if c != nil && c.done != nil {
			<-c.done
		}
	}
}

// forEach calls fn(i) for every i in [0, n), at most conc at a time. It
// returns the first error, after which, as after ctx ends, it starts no
// more calls; it returns when the calls started have returned.
func forEach(ctx context.Context, n, conc int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		// Go waits for a free slot, during which an error or the end of
		// ctx may come: then the slot's goroutine must not call fn.
		g.Go(func() error {
			if gctx.Err() != nil {
				return nil
			}
			return fn(i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
