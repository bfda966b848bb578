package wsapi

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// batchConn is the connection under a client's websocket.Conn. It holds a
// buffer only while there is data in it, in either direction, so that an
// idle connection costs little memory.
//
// Writes: it lets the connection's writer send several frames in one
// system call: while the writer holds it, writes go to a buffer, and
// release sends them at once. gorilla/websocket writes each frame with its
// own call, and with many small frames per recipient those calls, not fsync
// or encoding, bound how fast a server fans messages out. Writes may come
// from the writer and, for control frames, from the reader (gorilla
// serialises them); mu keeps them and release apart.
//
// Reads: gorilla reads through br, a small buffer of the server's, and
// batchConn reads from the socket into a pooled buffer that it takes only
// once the socket has data (see readFrom) and gives back when it is empty.
// A parked reader then holds no buffer, and a burst of pipelined frames
// still takes one system call. Knowing both buffers, batchConn can tell
// when all that was received has been read (idle), and the reader can wait
// for more without gorilla (await): see Server.readPump. Only one goroutine
// reads at a time (the reader, or the closing writer after it:
// client.linger).
type batchConn struct {
	net.Conn
	pools *buffers
	raw   syscall.RawConn // nil if Conn has no file descriptor

	holding atomic.Bool // set while the writer holds the connection (hold)

	mu  sync.Mutex
	buf *bufio.Writer // non-nil while holding

	// The read side, owned by the reader.
	br         *bufio.Reader // gorilla's reader over this connection, if ours
	rbuf       *[]byte       // non-nil while it holds unread bytes rbuf[roff:rend]
	roff, rend int
	rerr       error
	readFD     func(fd uintptr) bool // c.readFrom, allocated once
	// watch follows the frames of every byte read (Read, consume).
	watch frameWatch
}

// buffers are the pools batchConns take their buffers from.
type buffers struct {
	write sync.Pool // of *bufio.Writer, batchSize
	read  sync.Pool // of *[]byte, readSize
}

func newBuffers() *buffers {
	b := &buffers{}
	b.write.New = func() any { return bufio.NewWriterSize(nil, batchSize) }
	b.read.New = func() any { p := make([]byte, readSize); return &p }
	return b
}

func newBatchConn(c net.Conn, pools *buffers) *batchConn {
	b := &batchConn{Conn: c, pools: pools}
	if sc, ok := c.(syscall.Conn); ok && rawReads {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
			b.readFD = b.readFrom
		}
	}
	return b
}

// SetWriteDeadline implements net.Conn. While holding, gorilla sets a deadline
// for every frame; hold set one for the whole batch, and the others are
// dropped rather than each costing a call into the runtime's poller.
// It never waits for mu, so that another goroutine can cut a blocked write
// short.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	if b.holding.Load() {
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
	w := b.pools.write.Get().(*bufio.Writer)
	w.Reset(b.Conn)
	b.buf = w
	b.holding.Store(true)
}

// release sends what was buffered and stops buffering.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding.Store(false)
	err := b.buf.Flush()
	b.buf.Reset(nil)
	b.pools.write.Put(b.buf)
	b.buf = nil
	return err
}

// batchSize is the buffer of a holding batchConn; a batch that outgrows it is
// sent in parts.
const batchSize = 16 << 10

// hijacker hands gorilla's Upgrade a batchConn in place of the hijacked
// connection, with br in place of its reader, and keeps it for the caller.
// gorilla (v1.5.3) reads through the hijacked reader when the Upgrader's
// ReadBufferSize is 0 and the reader is larger than 256 bytes; if it ever
// read through a buffer of its own, idle could not see the bytes in it
// and a request behind another would wait for more data:
// TestHijacker_ReadsThroughBR and TestServer_ReadPump_FramesInOneWrite pin
// it.
type hijacker struct {
	http.ResponseWriter
	pools *buffers
	conn  *batchConn
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
	h.conn = newBatchConn(c, h.pools)
	if rw.Reader.Buffered() > 0 {
		// The client sent data before the handshake's end: gorilla
		// refuses that, seeing it buffered.
		return h.conn, rw, nil
	}
	h.conn.br = bufio.NewReaderSize(h.conn, gorillaReadSize)
	return h.conn, bufio.NewReadWriter(h.conn.br, rw.Writer), nil
}
