package wsapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// mustConnPair returns the two ends of a real loopback TCP connection, the
// server's end as a batchConn with gorilla's reader.
func mustConnPair(t *testing.T) (*batchConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	b := newBatchConn(server, newBuffers())
	b.br = bufio.NewReaderSize(b, gorillaReadSize)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	return b, client
}

// clientFrame is a client's frame with a zero mask, which leaves the
// payload as it is.
func clientFrame(first byte, payload string) []byte {
	return append([]byte{first, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

func TestBatchConn_Await(t *testing.T) {
	pong := clientFrame(0x8A, "")
	text := clientFrame(0x81, "x")
	tests := []struct {
		name  string
		sent  []byte
		pongs int    // awaits that drop a pong
		left  []byte // then left for gorilla
	}{
		{"pong", pong, 1, nil},
		{"pong with payload", clientFrame(0x8A, "keepalive"), 1, nil},
		{"two pongs", append(append([]byte{}, pong...), pong...), 2, nil},
		{"pong then text", append(append([]byte{}, pong...), text...), 1, text},
		{"text", text, 0, text},
		{"text then pong", append(append([]byte{}, text...), pong...), 0, append(append([]byte{}, text...), pong...)},
		{"part of a pong", pong[:3], 0, pong[:3]},
		{"unmasked pong", []byte{0x8A, 0}, 0, []byte{0x8A, 0}},
		{"pong without FIN", clientFrame(0x0A, ""), 0, clientFrame(0x0A, "")},
		{"pong with extended length", []byte{0x8A, 0x80 | 126, 0, 0, 0, 0, 0, 0}, 0, []byte{0x8A, 0x80 | 126, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, client := mustConnPair(t)
			if !b.idle() {
				t.Fatal("a new connection is not idle")
			}
			if _, err := client.Write(tt.sent); err != nil {
				t.Fatal(err)
			}
			pongs := 0
			for b.rbuf != nil || pongs == 0 {
				n := b.await()
				if n == 0 {
					break
				}
				pongs += n // and with nothing left, the next await would wait
			}
			if pongs != tt.pongs {
				t.Errorf("await dropped %d pongs, want %d", pongs, tt.pongs)
			}
			if tt.left == nil {
				if !b.idle() {
					t.Errorf("not idle after the pongs, %d bytes left", b.rend-b.roff)
				}
				return
			}
			if b.idle() {
				t.Error("idle with data left for gorilla")
			}
			got := make([]byte, len(tt.left))
			if _, err := b.br.Read(got); err != nil || !bytes.Equal(got, tt.left) {
				t.Errorf("gorilla reads %x, %v; want %x", got, err, tt.left)
			}
			if !b.idle() {
				t.Error("not idle once gorilla has read everything")
			}
		})
	}
}

// TestBatchConn_DropPongs checks that pongs received with a message are
// dropped once gorilla has read the message, wherever they are buffered.
func TestBatchConn_DropPongs(t *testing.T) {
	pong := clientFrame(0x8A, "abc")
	text := clientFrame(0x81, "hello")
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name  string
		sent  []byte
		pongs int
		idle  bool
	}{
		{"text then pong", join(text, pong), 1, true},
		{"text then two pongs", join(text, pong, pong), 2, true},
		{"text, pong, text", join(text, pong, text), 1, false},
		{"text then part of a pong", join(text, pong[:4]), 0, false},
		{"text then many pongs", join(text, bytes.Repeat(pong, 20)), 20, true},
		// br holds what fits of the pongs; the one split between br and
		// rbuf is left to gorilla.
		{"text then pongs past br", join(text, bytes.Repeat(pong, 100)), (gorillaReadSize - len(text)) / len(pong), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, client := mustConnPair(t)
			if _, err := client.Write(tt.sent); err != nil {
				t.Fatal(err)
			}
			if n := b.await(); n != 0 {
				t.Fatalf("await dropped %d pongs before the message", n)
			}
			// Read the message as gorilla would: through br, to its end.
			got := make([]byte, len(text))
			if _, err := io.ReadFull(b.br, got); err != nil || !bytes.Equal(got, text) {
				t.Fatalf("read %x, %v; want %x", got, err, text)
			}
			pongs := b.dropPongs()
			for pongs < tt.pongs && b.rbuf == nil && b.br.Buffered() == 0 {
				pongs += b.await() // the rest had not arrived with the message
			}
			if pongs != tt.pongs || b.idle() != tt.idle {
				t.Errorf("dropped %d pongs, idle %v; want %d, %v", pongs, b.idle(), tt.pongs, tt.idle)
			}
		})
	}
}

// TestBatchConn_Await_Closed checks that the end of the connection reaches
// gorilla's next read.
func TestBatchConn_Await_Closed(t *testing.T) {
	b, client := mustConnPair(t)
	client.Close()
	if b.await() != 0 {
		t.Fatal("await reported a pong on a closed connection")
	}
	if b.idle() {
		t.Error("idle with an error to report")
	}
	if _, err := b.br.ReadByte(); err == nil {
		t.Error("read after the client closed: no error")
	}
}

// TestBatchConn_Read_AfterDeadline checks that a read error is reported
// once: after a deadline passes, a read with a new deadline gets the data
// (a closing connection lingers that way).
func TestBatchConn_Read_AfterDeadline(t *testing.T) {
	b, client := mustConnPair(t)
	_ = b.SetReadDeadline(time.Now().Add(-time.Second))
	if b.await() != 0 {
		t.Fatal("await reported a pong")
	}
	var ne net.Error
	if _, err := b.Read(make([]byte, 8)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 8)
	n, err := b.Read(got)
	if err != nil || string(got[:n]) != "late" {
		t.Fatalf("read with a new deadline: %q, %v; want \"late\"", got[:n], err)
	}
}
