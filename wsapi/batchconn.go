package wsapi

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// batchConn lets a connection's writer send several frames in one system
// call: while the writer holds it, writes go to a buffer, and release sends
// them at once. gorilla/websocket writes each frame with its own call, and
// with many small frames per recipient those calls, not fsync or encoding,
// bound how fast a server fans messages out.
//
// Writes may come from the writer and, for control frames, from the reader
// (gorilla serialises them); mu keeps them and release apart. The buffer is
// taken from a pool only while held, so an idle connection costs nothing.
type batchConn struct {
	net.Conn
	pool *sync.Pool // of *bufio.Writer

	held atomic.Bool // set while the writer holds the connection

	mu  sync.Mutex
	buf *bufio.Writer // non-nil while held
}

// SetWriteDeadline implements net.Conn. While held, gorilla sets a deadline
// for every frame; hold set one for the whole batch, and the others are
// dropped rather than each costing a call into the runtime's poller.
// It never waits for mu, so that another goroutine can cut a blocked write
// short.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	if b.held.Load() {
		return nil
	}
	return b.Conn.SetWriteDeadline(t)
}

// Write implements net.Conn.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		return b.buf.Write(p)
	}
	return b.Conn.Write(p)
}

// hold starts buffering writes, which must be sent by deadline.
func (b *batchConn) hold(deadline time.Time) {
	_ = b.Conn.SetWriteDeadline(deadline)
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.pool.Get().(*bufio.Writer)
	w.Reset(b.Conn)
	b.buf = w
	b.held.Store(true)
}

// release sends what was buffered and stops buffering.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held.Store(false)
	err := b.buf.Flush()
	b.buf.Reset(nil)
	b.pool.Put(b.buf)
	b.buf = nil
	return err
}

// batchSize is the buffer of a held batchConn; a batch that outgrows it is
// sent in parts.
const batchSize = 16 << 10

func newBatchPool() *sync.Pool {
	return &sync.Pool{New: func() any { return bufio.NewWriterSize(nil, batchSize) }}
}

// hijacker hands gorilla's Upgrade a batchConn in place of the hijacked
// connection, and keeps it for the caller.
type hijacker struct {
	http.ResponseWriter
	pool *sync.Pool
	conn *batchConn
}

// Hijack implements http.Hijacker.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsapi: response does not implement http.Hijacker")
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: c, pool: h.pool}
	return h.conn, rw, nil
}
