package wsapi_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn is a WebSocket client written by hand over a real TCP
// connection, for the tests where a library would hide the bytes: it
// sends exactly the frames given, answers nothing by itself (no pongs, no
// close echo), and can tell when the server closes the TCP connection.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dialRaw connects to ts and completes the opening handshake.
func dialRaw(t testing.TB, ts *testServer) *rawConn {
	t.Helper()
	rc, resp := handshakeRaw(t, ts, "HTTP/1.1", "13")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return rc
}

// handshakeRaw sends an upgrade request with the given HTTP version and
// Sec-WebSocket-Version and returns the connection with the response.
func handshakeRaw(t testing.TB, ts *testServer, proto, version string) (*rawConn, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", ts.http.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(waitFor))
	fmt.Fprintf(c, "GET /ws %s\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: %s\r\n\r\n",
		proto, ts.http.Listener.Addr(), version)
	rc := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
	}
	return rc, resp
}

// registerRaw registers name on a new raw connection.
func registerRaw(t *testing.T, ts *testServer, name string) *rawConn {
	t.Helper()
	rc := dialRaw(t, ts)
	rc.request(msg{"type": "RegisterRequest", "username": name})
	if m := rc.readMsg(); m["type"] != "RegisterResponse" {
		t.Fatalf("register: %v", m)
	}
	return rc
}

// clientFrame is a client's frame (FIN set, masked with a zero mask, which
// leaves the payload as it is) with the given opcode.
func clientFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(append(b, 0, 0, 0, 0), payload...)
}

// closePayload is a close frame's payload: the code and the reason.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// write sends bytes as they are, in one write.
func (rc *rawConn) write(parts ...[]byte) {
	rc.t.Helper()
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	_ = rc.c.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// request sends m as a text frame.
func (rc *rawConn) request(m msg) {
	rc.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.write(clientFrame(0x1, b))
}

// serverFrame is a frame the server sent.
type serverFrame struct {
	opcode  byte
	payload []byte
}

// closeCode is a close frame's code, 1005 when it has none.
func (f serverFrame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// readFrame reads the server's next frame, failing the test after waitFor.
// peekOpcode returns the opcode of the next frame without reading it.
func (rc *rawConn) peekOpcode() byte {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(waitFor))
	b, err := rc.br.Peek(1)
	if err != nil {
		rc.t.Fatalf("peek frame: %v", err)
	}
	return b[0] & 0x0f
}

func (rc *rawConn) readFrame() serverFrame {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(waitFor))
	var head [2]byte
	if _, err := io.ReadFull(rc.br, head[:]); err != nil {
		rc.t.Fatalf("read frame: %v", err)
	}
	n := uint64(head[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		_, _ = io.ReadFull(rc.br, ext[:])
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, _ = io.ReadFull(rc.br, ext[:])
		n = binary.BigEndian.Uint64(ext[:])
	}
	if head[1]&0x80 != 0 {
		rc.t.Fatal("the server masked a frame")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(rc.br, payload); err != nil {
		rc.t.Fatalf("read payload: %v", err)
	}
	return serverFrame{opcode: head[0] & 0x0F, payload: payload}
}

// readMsg reads the next frame, which must be a text frame, as JSON.
func (rc *rawConn) readMsg() msg {
	rc.t.Helper()
	f := rc.readFrame()
	if f.opcode != 0x1 {
		rc.t.Fatalf("got opcode %#x (%q), want a text frame", f.opcode, f.payload)
	}
	var m msg
	if err := json.Unmarshal(f.payload, &m); err != nil {
		rc.t.Fatalf("invalid JSON %q: %v", f.payload, err)
	}
	return m
}

// readClose reads frames until a close frame, skipping pings, and
// returns its code; any other frame fails the test.
func (rc *rawConn) readClose() int {
	rc.t.Helper()
	for {
		f := rc.readFrame()
		switch f.opcode {
		case 0x8:
			return f.closeCode()
		case 0x9:
			continue
		}
		rc.t.Fatalf("got opcode %#x (%q) before the close frame", f.opcode, f.payload)
	}
}

// awaitEOF waits for the server to close the TCP connection and returns
// how long that took; it fails the test if data arrives or after waitFor.
func (rc *rawConn) awaitEOF() time.Duration {
	rc.t.Helper()
	start := time.Now()
	_ = rc.c.SetReadDeadline(start.Add(waitFor))
	b, err := rc.br.ReadByte()
	switch {
	case errors.Is(err, io.EOF), err != nil && strings.Contains(err.Error(), "connection reset"):
		return time.Since(start)
	case err != nil:
		rc.t.Fatalf("no TCP close within %v: %v", waitFor, err)
	}
	rc.t.Fatalf("got byte %#x after the close frame", b)
	return 0
}
