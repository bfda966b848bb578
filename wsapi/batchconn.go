package wsapi

import (
	"bufio"
	"errors"
	"io"
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

	held atomic.Bool // set while the writer holds the connection

	mu  sync.Mutex
	buf *bufio.Writer // non-nil while held

	// The read side, owned by the reader.
	br         *bufio.Reader // gorilla's reader over this connection, if ours
	rbuf       *[]byte       // non-nil while it holds unread bytes rbuf[roff:rend]
	roff, rend int
	rerr       error
	readFD     func(fd uintptr) bool // c.readFrom, allocated once
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

// readSize is the pooled read buffer: many pipelined requests at once.
const readSize = 4 << 10

// gorillaReadSize is br's size: gorilla reads through the hijacked
// connection's reader if it is larger than 256 bytes (and the Upgrader's
// ReadBufferSize is 0); batchConn does the real buffering.
const gorillaReadSize = 288

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

// Read implements net.Conn.
func (b *batchConn) Read(p []byte) (int, error) {
	if b.raw == nil {
		return b.Conn.Read(p)
	}
	if b.rbuf == nil && b.rerr == nil {
		if err := b.raw.Read(b.readFD); err != nil {
			b.rerr = err
		}
	}
	if b.rbuf == nil {
		// Reported once: a read after a deadline may succeed (linger).
		err := b.rerr
		b.rerr = nil
		return 0, err
	}
	n := copy(p, (*b.rbuf)[b.roff:b.rend])
	b.consume(n)
	return n, nil
}

// readFrom is called by the runtime's poller with the socket; it returns
// false to wait until the socket is readable. It keeps the pooled buffer
// only if the read finds data, and then sets rbuf; or it sets rerr.
func (b *batchConn) readFrom(fd uintptr) bool {
	buf := b.pools.read.Get().(*[]byte)
	n, again, err := readRaw(fd, *buf)
	switch {
	case again:
		b.pools.read.Put(buf)
		return false
	case err != nil:
		b.pools.read.Put(buf)
		b.rerr = &net.OpError{Op: "read", Net: b.LocalAddr().Network(), Source: b.LocalAddr(), Addr: b.RemoteAddr(), Err: err}
	case n == 0:
		b.pools.read.Put(buf)
		b.rerr = io.EOF
	default:
		b.rbuf, b.roff, b.rend = buf, 0, n
	}
	return true
}

// await parks until the socket has data and reads it, or keeps the error
// for the next Read. It must be called only when idle, so that the data
// starts a frame. It reports the complete pongs it dropped from the start
// of the data (dropPongs); after any, the caller extends its read deadline
// and, if idle again, waits again. Without the raw socket or br it returns
// 0 at once, and the reader always reads through gorilla.
func (b *batchConn) await() (pongs int) {
	if b.raw == nil || b.br == nil {
		return 0
	}
	if b.rbuf == nil && b.rerr == nil {
		if err := b.raw.Read(b.readFD); err != nil {
			b.rerr = err
		}
	}
	return b.dropPongs()
}

// idle reports whether gorilla has read every byte received so far; after
// a whole message, the next byte starts a frame.
func (b *batchConn) idle() bool {
	return b.raw != nil && b.br != nil && b.rbuf == nil && b.rerr == nil && b.br.Buffered() == 0
}

// dropPongs drops the complete pong frames at the start of what was
// received and not yet read, in br or else in rbuf, and returns how many.
// It must be called only at a frame boundary: at the start, or after
// gorilla returned a whole message. It never reads the socket. Pongs are
// what an idle connection receives; left to gorilla, the reader would
// wait for the next message inside gorilla's read, on a grown stack.
func (b *batchConn) dropPongs() (pongs int) {
	if b.br == nil {
		return 0
	}
	for {
		if n := b.br.Buffered(); n > 0 {
			p, _ := b.br.Peek(n) // buffered: no read
			size := pongSize(p)
			if size == 0 {
				return pongs
			}
			_, _ = b.br.Discard(size)
		} else if b.rbuf != nil {
			size := pongSize((*b.rbuf)[b.roff:b.rend])
			if size == 0 {
				return pongs
			}
			b.consume(size)
		} else {
			return pongs
		}
		pongs++
	}
}

// pongSize returns the size of the client's pong frame that starts p, or 0
// if p does not start with a whole one (RFC 6455 5.2, 5.5.3: FIN and no
// extension bits, masked, a control frame's payload at most 125 bytes).
// Anything else, including a pong gorilla would refuse, is left to gorilla.
func pongSize(p []byte) int {
	const finPong, masked = 0x8A, 0x80
	if len(p) < 2 || p[0] != finPong || p[1]&masked == 0 || p[1]&^masked > 125 {
		return 0
	}
	n := 2 + 4 + int(p[1]&^masked)
	if len(p) < n {
		return 0
	}
	return n
}

// consume drops n read bytes, and the buffer once it is empty.
func (b *batchConn) consume(n int) {
	b.roff += n
	if b.roff == b.rend {
		b.pools.read.Put(b.rbuf)
		b.rbuf = nil
	}
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
	w := b.pools.write.Get().(*bufio.Writer)
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
	b.pools.write.Put(b.buf)
	b.buf = nil
	return err
}

// batchSize is the buffer of a held batchConn; a batch that outgrows it is
// sent in parts.
const batchSize = 16 << 10

// hijacker hands gorilla's Upgrade a batchConn in place of the hijacked
// connection, with br in place of its reader, and keeps it for the caller.
// gorilla (v1.5.3) reads through the hijacked reader when the Upgrader's
// ReadBufferSize is 0 and the reader is larger than 256 bytes; if it ever
// read through a buffer of its own, idle could not see the bytes in it
// and a request behind a pong would wait for more data:
// TestServer_ControlFrames ("request and pong at once") would fail.
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
