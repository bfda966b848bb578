package wsapi

// Tests that pin what batchConn assumes of gorilla/websocket (v1.5.3): each
// fails naming the assumption when a gorilla upgrade or a refactor breaks
// it. These build their own upgrades, as Server.ServeHTTP does them, so
// that they do not depend on the Server; readpump_pins_test.go has the
// same on the Server, and idle_pins_test.go the ones about memory.

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pinWait bounds every wait in these tests.
const pinWait = 5 * time.Second

// upgraded is the server's end of a WebSocket connection.
type upgraded struct {
	ws    *websocket.Conn
	batch *batchConn
}

// startUpgrader serves upgrades the way Server.ServeHTTP does for the read
// path, through a hijacker and with ReadBufferSize 0, and returns its
// address and the connections it upgrades. It closes them when the test
// ends.
func startUpgrader(t testing.TB) (addr string, conns <-chan upgraded) {
	t.Helper()
	pools := newBuffers()
	// The Upgrader as cmd/chateau configures it, with the ReadBufferSize
	// that Server.Start sets.
	up := websocket.Upgrader{ReadBufferSize: 0, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	ch := make(chan upgraded, 1)
	var mu sync.Mutex
	var all []*websocket.Conn
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj := &hijacker{ResponseWriter: w, pools: pools}
		ws, err := up.Upgrade(hj, r, nil)
		if err != nil {
			return // gorilla has answered with an HTTP error
		}
		mu.Lock()
		all = append(all, ws)
		mu.Unlock()
		ch <- upgraded{ws: ws, batch: hj.conn}
	}))
	t.Cleanup(func() {
		ts.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, ws := range all {
			ws.Close()
		}
	})
	return ts.Listener.Addr().String(), ch
}

// handshake opens a WebSocket connection to addr by hand, so that the
// client's end is nothing but its socket; the test's end closes it.
func handshake(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(pinWait))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	// The response is all the server sends until the client does.
	var resp []byte
	buf := make([]byte, 256)
	for !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("handshake response %q: %v", resp, err)
		}
		resp = append(resp, buf[:n]...)
	}
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")) {
		t.Fatalf("handshake response %q", resp)
	}
	_ = c.SetDeadline(time.Time{})
	return c
}

// dialUpgraded opens a connection to startUpgrader's addr and returns both
// ends; the server's has a read deadline pinWait away.
func dialUpgraded(t testing.TB, addr string, conns <-chan upgraded) (net.Conn, upgraded) {
	t.Helper()
	c := handshake(t, addr)
	select {
	case u := <-conns:
		_ = u.batch.SetReadDeadline(time.Now().Add(pinWait))
		return c, u
	case <-time.After(pinWait):
		t.Fatal("the server did not hand over the upgraded connection")
		return nil, upgraded{}
	}
}

// clientFrame16 is clientFrame for a payload of 126 to 65535 bytes.
func clientFrame16(first byte, payload string) []byte {
	return append([]byte{first, 0x80 | 126, byte(len(payload) >> 8), byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// pinFrame is a frame a test client sends.
type pinFrame struct {
	first   byte // FIN and opcode
	payload string
}

func (f pinFrame) pong() bool { return f.first == 0x8A }

func (f pinFrame) bytes() []byte {
	if len(f.payload) > 125 {
		return clientFrame16(f.first, f.payload)
	}
	return clientFrame(f.first, f.payload)
}

// unreadBytes is how many received bytes gorilla has not read, if it reads
// through br: those in br and in b's own buffer.
func unreadBytes(b *batchConn) int {
	n := b.br.Buffered()
	if b.rbuf != nil {
		n += b.rend - b.roff
	}
	return n
}

// TestHijacker_ReadsThroughBR pins what batchConn assumes of gorilla's
// Upgrade (server.go, newConn): with the Upgrader's ReadBufferSize 0 and a
// hijacked reader larger than 256 bytes, gorilla reads through that reader,
// batchConn.br, and keeps the hijacker's net.Conn, the batchConn. Then all
// that was received and not yet returned as a message is in br or in
// batchConn's buffer, where idle and dropPongs see it. Were gorilla to read
// through a buffer of its own, the frames behind a message would sit there
// unseen: idle would say true and the reader would park in await with them
// unread (TestServer_ReadPump_FramesInOneWrite shows that on the Server).
func TestHijacker_ReadsThroughBR(t *testing.T) {
	first, second := pinFrame{0x81, "first"}, pinFrame{0x82, "second"}
	long := pinFrame{0x81, strings.Repeat("x", 3*gorillaReadSize)}
	pong := pinFrame{0x8A, "abc"}
	tests := []struct {
		name   string
		frames []pinFrame // sent in one write
	}{
		{"one message", []pinFrame{first}},
		{"two messages", []pinFrame{first, second}},
		{"message, pong, message", []pinFrame{first, pong, second}},
		{"pong, message, pong", []pinFrame{pong, first, pong}},
		{"message longer than br, message", []pinFrame{long, first}},
		{"message, message longer than br", []pinFrame{first, long}},
	}
	addr, conns := startUpgrader(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, u := dialUpgraded(t, addr, conns)
			if u.ws.NetConn() != net.Conn(u.batch) {
				t.Fatalf("gorilla keeps a %T, not the hijacker's batchConn: its reads (it resets br onto that "+
					"connection) and its writes would bypass batchConn", u.ws.NetConn())
			}
			if u.batch.br == nil {
				t.Fatal("the hijacker gave gorilla no br")
			}
			var sent []byte
			for _, f := range tt.frames {
				sent = append(sent, f.bytes()...)
			}
			if _, err := client.Write(sent); err != nil {
				t.Fatal(err)
			}
			readFrames(t, u.batch, u.ws, tt.frames)
		})
	}
}

// readFrames reads frames, sent in one write, as Server.readPump does, and
// checks after each message that batchConn holds every byte behind it.
func readFrames(t *testing.T, b *batchConn, ws *websocket.Conn, frames []pinFrame) {
	t.Helper()
	left := func(from int) (n int) { // the bytes of frames[from:]
		for _, f := range frames[from:] {
			n += len(f.bytes())
		}
		return n
	}
	next := 0
	for next < len(frames) && frames[next].pong() {
		next++
	}
	if pongs := b.await(); pongs != next {
		t.Fatalf("await dropped %d pongs, want %d", pongs, next)
	}
	for next < len(frames) {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read frame %d: %v", next, err)
		}
		if want := frames[next]; kind != int(want.first&0x0F) || string(data) != want.payload {
			t.Fatalf("frame %d: read %d %.20q, want %d %.20q", next, kind, data, want.first&0x0F, want.payload)
		}
		next++
		if got, want := unreadBytes(b), left(next); got != want {
			t.Fatalf("after frame %d of %d sent in one write, batchConn holds %d bytes unread, want %d: "+
				"gorilla reads through a buffer of its own, not batchConn.br (gorilla v1.5.3 uses the hijacked "+
				"reader only with Upgrader.ReadBufferSize 0 and a reader over 256 bytes: gorillaReadSize)",
				next, len(frames), got, want)
		}
		for next < len(frames) && frames[next].pong() {
			next++
		}
		if pongs := b.dropPongs(); unreadBytes(b) != left(next) {
			t.Fatalf("after frame %d, dropPongs dropped %d pongs and left %d bytes, want %d", next, pongs, unreadBytes(b), left(next))
		}
	}
	if !b.idle() || b.rbuf != nil {
		t.Errorf("not idle after the last frame: %d bytes unread, read buffer kept %v", unreadBytes(b), b.rbuf != nil)
	}
	if last := frames[len(frames)-1].first & 0x0F; b.watch.opcode != last || b.watch.have != 0 || b.watch.payload != 0 {
		t.Errorf("frameWatch is at opcode %#x, %d header bytes, %d payload bytes to come; want opcode %#x at a frame's end: "+
			"gorilla read bytes that did not pass through batchConn.Read", b.watch.opcode, b.watch.have, b.watch.payload, last)
	}
}
