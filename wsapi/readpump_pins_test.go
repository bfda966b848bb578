package wsapi

// The pins of gorilla_pins_test.go and idle_pins_test.go on the Server's
// own reader (readPump), through the Server's exported API only.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/gorilla/websocket"
)

// startPinServer serves a Server, its Upgrader as cmd/chateau configures
// it, on a new log, and returns its address. It shuts the Server down when
// the test ends, after the test's clients have closed.
func startPinServer(t *testing.T) string {
	t.Helper()
	l, _, err := eventlog.Open(filepath.Join(t.TempDir(), "chateau.db"), eventlog.Options{})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	state, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	core := &chat.Core{Log: l, State: state, Encode: Encode}
	core.Start()
	s := &Server{Core: core, Upgrader: websocket.Upgrader{WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}}
	s.Start()
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), pinWait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		core.Stop()
		ts.Close()
		_ = l.Close()
	})
	return ts.Listener.Addr().String()
}

// pinAnswer is the part of an answer these tests look at.
type pinAnswer struct {
	Type      string `json:"type"`
	Status    int    `json:"status"`
	MessageID string `json:"messageID"`
}

// readAnswer reads the server's next frame from c, which must be a text
// frame, and decodes it.
func readAnswer(c net.Conn) (pinAnswer, error) {
	var a pinAnswer
	_ = c.SetReadDeadline(time.Now().Add(pinWait))
	head := make([]byte, 4)
	if _, err := io.ReadFull(c, head[:2]); err != nil {
		return a, err
	}
	size := int(head[1] & 0x7F)
	if size == 126 {
		if _, err := io.ReadFull(c, head[2:4]); err != nil {
			return a, err
		}
		size = int(binary.BigEndian.Uint16(head[2:4]))
	}
	if head[0] != 0x81 || size == 127 {
		return a, fmt.Errorf("frame %x, not a short text frame", head[:2])
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(c, payload); err != nil {
		return a, err
	}
	return a, json.Unmarshal(payload, &a)
}

// TestServer_ReadPump_FramesInOneWrite pins, on the Server, what
// TestHijacker_ReadsThroughBR pins of gorilla: requests that arrive
// together, with pongs among them, are all read without waiting for more
// data. Before registering, every request gets 301.
func TestServer_ReadPump_FramesInOneWrite(t *testing.T) {
	request := func(id string) pinFrame {
		return pinFrame{0x81, `{"type":"ClientListRequest","messageID":"` + id + `"}`}
	}
	pong := pinFrame{0x8A, "abc"}
	a, b := request("a"), request("b")
	tests := []struct {
		name    string
		frames  []pinFrame // sent in one write
		answers []string   // their messageIDs
	}{
		{"two requests", []pinFrame{a, b}, []string{"a", "b"}},
		{"request, pong, request", []pinFrame{a, pong, b}, []string{"a", "b"}},
		{"pongs around requests", []pinFrame{pong, a, pong, b, pong}, []string{"a", "b"}},
	}
	addr := startPinServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handshake(t, addr)
			var sent []byte
			for _, f := range tt.frames {
				sent = append(sent, f.bytes()...)
			}
			if _, err := c.Write(sent); err != nil {
				t.Fatal(err)
			}
			for i, id := range tt.answers {
				a, err := readAnswer(c)
				if err != nil {
					t.Fatalf("answer %d of %d to requests sent in one write: %v: the reader waits for more data with "+
						"a request unread, as when gorilla reads through a buffer of its own (see hijacker)", i+1, len(tt.answers), err)
				}
				if a.Status != chat.StatusNotRegistered || a.MessageID != id {
					t.Fatalf("answer %d: %+v, want 301 to %q", i+1, a, id)
				}
			}
		})
	}
}

// TestServer_IdleMemory pins what the README's Performance section
// measures with `chateau bench -idle`, on a Server in this process: an idle
// registered connection's reader parks on a new goroutine's stack (2 KB)
// however deep its last read went (readPump goes on in a new goroutine,
// its own frame small: readMessages and what it calls are not inlined into
// it), and the connection keeps no read buffer.
func TestServer_IdleMemory(t *testing.T) {
	if !inExactStacks(t) {
		return
	}
	addr := startPinServer(t)
	// Both ends of each connection count, and the Server's state of a
	// registered user; a read buffer kept would add 4 KiB.
	checkIdleCost(t, idleConns, 7<<10, func() {
		clients := make([]net.Conn, idleConns)
		for i := range clients {
			clients[i] = handshake(t, addr)
			register := pinFrame{0x81, fmt.Sprintf(`{"type":"RegisterRequest","username":"idle%d"}`, i)}
			if _, err := clients[i].Write(register.bytes()); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range clients {
			if a, err := readAnswer(c); err != nil || a.Type != "RegisterResponse" || a.Status != 200 {
				t.Fatalf("client %d: %+v, %v; want RegisterResponse 200", i, a, err)
			}
		}
	})
}
