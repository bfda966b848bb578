package wsapi

import "encoding/binary"

// frameWatch follows the frame headers of what a client sends, as the bytes
// leave batchConn (to gorilla, or dropped), without copying or decoding any
// payload. gorilla reads the frames; frameWatch knows two things gorilla
// does not tell:
//   - closeSeen: the client's close frame has been received whole, so the
//     closing handshake is complete on its side and the server may close
//     the TCP connection at once (RFC 6455 7.1.1) even when gorilla is no
//     longer reading (a reader stopped by a deadline, or lingering);
//   - badClose: a close frame came with a 1-byte payload, which RFC 6455
//     5.5.1 forbids and gorilla v1.5.3 takes as a close without a code.
//
// It is owned by whoever reads the batchConn: the reader, or after it the
// closing writer (client.linger).
type frameWatch struct {
	head      [maxHeaderSize]byte // the current frame's header so far
	have      int                 // bytes of head received
	payload   uint64              // payload bytes of the current frame not yet seen
	opcode    byte
	closeSeen bool
	badClose  bool
}

// maxHeaderSize is a client frame's largest header: 2 bytes, an 8-byte
// length and the 4-byte mask.
const maxHeaderSize = 2 + 8 + 4

const opClose = 0x8

// feed follows p, the next bytes the client sent.
func (w *frameWatch) feed(p []byte) {
	for len(p) > 0 {
		if w.payload > 0 {
			n := uint64(len(p))
			if n > w.payload {
				n = w.payload
			}
			w.payload -= n
			p = p[n:]
			if w.payload == 0 {
				w.frameEnd()
			}
			continue
		}
		need := w.headerSize()
		n := copy(w.head[w.have:need], p)
		w.have += n
		p = p[n:]
		if w.have == w.headerSize() {
			w.headerDone()
		}
	}
}

// headerSize is the current header's size as far as it is known: the
// first two bytes tell the rest.
func (w *frameWatch) headerSize() int {
	if w.have < 2 {
		return 2
	}
	size := 2
	switch w.head[1] & 0x7F {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if w.head[1]&0x80 != 0 {
		size += 4
	}
	return size
}

// headerDone starts the payload of the frame whose header is complete.
func (w *frameWatch) headerDone() {
	w.opcode = w.head[0] & 0x0F
	switch n := w.head[1] & 0x7F; n {
	case 126:
		w.payload = uint64(binary.BigEndian.Uint16(w.head[2:4]))
	case 127:
		w.payload = binary.BigEndian.Uint64(w.head[2:10])
	default:
		w.payload = uint64(n)
	}
	if w.opcode == opClose && w.payload == 1 {
		w.badClose = true
	}
	w.have = 0
	if w.payload == 0 {
		w.frameEnd()
	}
}

func (w *frameWatch) frameEnd() {
	if w.opcode == opClose {
		w.closeSeen = true
	}
}
