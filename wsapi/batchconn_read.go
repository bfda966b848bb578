package wsapi

import (
	"io"
	"net"
)

// The read side of batchConn; see its doc.

// readSize is the pooled read buffer: many pipelined requests at once.
const readSize = 4 << 10

// gorillaReadSize is br's size: gorilla reads through the hijacked
// connection's reader if it is larger than 256 bytes (and the Upgrader's
// ReadBufferSize is 0); batchConn does the real buffering.
const gorillaReadSize = 288

// Read implements net.Conn.
func (b *batchConn) Read(p []byte) (int, error) {
	if b.raw == nil {
		n, err := b.Conn.Read(p)
		b.watch.feed(p[:n])
		return n, err
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

// discardUntilClose reads and drops what the client sends until its close
// frame has been received whole, the read deadline passes, or the
// connection ends; it reports whether the close frame came.
func (b *batchConn) discardUntilClose() bool {
	var buf [512]byte
	for !b.watch.closeSeen {
		if _, err := b.Read(buf[:]); err != nil {
			return false
		}
	}
	return true
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
	b.watch.feed((*b.rbuf)[b.roff : b.roff+n])
	b.roff += n
	if b.roff == b.rend {
		b.pools.read.Put(b.rbuf)
		b.rbuf = nil
	}
}
