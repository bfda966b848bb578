package wsapi_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/wsapi"
)

// closeBound is how soon after a completed closing handshake the server
// must close the TCP connection: generous for a busy 2-core machine, far
// below the second a lingering server took.
const closeBound = 250 * time.Millisecond

// TestServer_Close_ByClient: the client closes; requests sent before its
// close frame are answered, the close is echoed (1002 for a malformed
// one), and the TCP connection is closed at once.
func TestServer_Close_ByClient(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	tests := []struct {
		name     string
		payload  []byte
		answered bool // the request before it is answered; else it may be
		want     int
	}{
		{"normal", closePayload(1000, ""), true, 1000},
		{"going away with a reason", closePayload(1001, "bye"), true, 1001},
		{"no code", nil, true, 1005},
		{"1-byte payload", []byte{0x03}, false, 1002},
		{"code 999", closePayload(999, ""), false, 1002},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := registerRaw(t, ts, fmt.Sprintf("closer%d", i))
			rc.write(clientFrame(0x1, []byte(`{"type":"ClientListRequest","messageID":"last"}`)), clientFrame(0x8, tt.payload))
			switch {
			case tt.answered:
				if m := rc.readMsg(); m["messageID"] != "last" {
					t.Fatalf("got %v, want the answer to the last request", m)
				}
			case rc.peekOpcode() == 0x1:
				// A protocol error closes at once; an answer the
				// sequencer queued before the reader met it may go first.
				if m := rc.readMsg(); m["messageID"] != "last" {
					t.Fatalf("got %v before the close, want at most the answer to the last request", m)
				}
			}
			if code := rc.readClose(); code != tt.want {
				t.Fatalf("close code %d, want %d", code, tt.want)
			}
			if took := rc.awaitEOF(); took > closeBound {
				t.Fatalf("TCP closed %v after the close frame, want within %v", took, closeBound)
			}
		})
	}
}

// TestServer_Close_ByServer: the server closes; once the client answers
// its close frame, the TCP connection is closed at once.
func TestServer_Close_ByServer(t *testing.T) {
	l, _ := mustOpenLog(t)
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := startServer(t, l, func(s *wsapi.Server) {
		s.RateLimit, s.RateBurst = 1, 1
		s.Now = func() time.Time { return frozen } // no token comes back
	}, cheapPasswords)
	tests := []struct {
		name  string
		cause func(t *testing.T, rc *rawConn)
		want  int
	}{
		{"frame too large", func(t *testing.T, rc *rawConn) {
			rc.write(clientFrame(0x1, bytes.Repeat([]byte("x"), wsapi.DefaultMaxFrameBytes+1)))
		}, 1009},
		{"bad opcode", func(t *testing.T, rc *rawConn) { rc.write(clientFrame(0x3, nil)) }, 1002},
		{"flood", func(t *testing.T, rc *rawConn) {
			for range 102 {
				rc.request(msg{"type": "ClientListRequest"})
			}
		}, 1008},
		{"session replaced", func(t *testing.T, rc *rawConn) {
			c := dial(t, ts)
			c.send(msg{"type": "RegisterRequest", "username": "owner", "password": "correct horse"})
			c.expect("RegisterResponse", 200)
		}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, ts)
			rc.request(msg{"type": "RegisterRequest", "username": "owner", "password": "correct horse"})
			if m := rc.readMsg(); m["type"] != "RegisterResponse" {
				t.Fatalf("register: %v", m)
			}
			tt.cause(t, rc)
			if code := readCloseSkipping(rc); code != tt.want {
				t.Fatalf("close code %d, want %d", code, tt.want)
			}
			rc.write(clientFrame(0x8, closePayload(tt.want, "")))
			if took := rc.awaitEOF(); took > closeBound {
				t.Fatalf("TCP closed %v after the client's close frame, want within %v", took, closeBound)
			}
		})
	}
	t.Run("shutdown", func(t *testing.T) {
		rc := registerRaw(t, ts, "late")
		stopped := make(chan struct{})
		go func() { ts.stop(); close(stopped) }()
		defer func() { <-stopped }() // stop waits for this connection's end
		if code := rc.readClose(); code != 1001 {
			t.Fatalf("close code %d, want 1001", code)
		}
		rc.write(clientFrame(0x8, closePayload(1001, "")))
		if took := rc.awaitEOF(); took > closeBound {
			t.Fatalf("TCP closed %v after the client's close frame, want within %v", took, closeBound)
		}
	})
}

// readCloseSkipping reads frames until a close frame and returns its code,
// skipping the answers before it (429s, SessionReplaced).
func readCloseSkipping(rc *rawConn) int {
	for {
		if f := rc.readFrame(); f.opcode == 0x8 {
			return f.closeCode()
		}
	}
}

// TestServer_Close_LengthTopBit: a frame length with the top bit set (which
// gorilla refuses without a close frame) closes with 1009.
func TestServer_Close_LengthTopBit(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	rc := registerRaw(t, ts, "ann")
	rc.write([]byte{0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if code := rc.readClose(); code != 1009 {
		t.Fatalf("close code %d, want 1009", code)
	}
	rc.awaitEOF()
}

// TestServer_CloseLog: the log names the close code that went on the
// wire and the connection's user once it registered, and at debug the
// reason.
func TestServer_CloseLog(t *testing.T) {
	l, _ := mustOpenLog(t)
	logs := &logBuffer{changed: make(chan struct{}, 1)}
	ts := startServer(t, l, func(s *wsapi.Server) {
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tests := []struct {
		name  string
		user  string // registered first, and named in the lines
		frame []byte
		code  int
		why   string
	}{
		{"bad opcode", "", clientFrame(0x3, nil), 1002, "bad opcode 3"},
		{"length with the top bit", "", []byte{0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1009, "frame too large"},
		{"client's close", "", clientFrame(0x8, closePayload(1001, "")), 1001, "client closed"},
		{"registered", "ann", clientFrame(0x8, closePayload(1000, "")), 1000, `user=ann code=1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, who := dialRaw(t, ts), ""
			if tt.user != "" {
				rc, who = registerRaw(t, ts, tt.user), " user="+tt.user
			}
			rc.write(tt.frame)
			rc.readClose()
			rc.write(clientFrame(0x8, closePayload(1000, "")))
			rc.awaitEOF()
			opened := logs.await(t, `msg="connection opened" conn=(\d+) remote=`+regexp.QuoteMeta(rc.c.LocalAddr().String()))
			logs.await(t, `msg="connection closed" conn=`+opened[1]+who+` code=`+strconv.Itoa(tt.code)+"\n")
			logs.await(t, tt.why)
		})
	}
}

// logBuffer collects log lines and signals each write.
type logBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func (lb *logBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.b.Write(p)
	select {
	case lb.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (lb *logBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

// await waits up to waitFor for a match of the regular expression re and
// returns it with its groups.
func (lb *logBuffer) await(t *testing.T, re string) []string {
	t.Helper()
	compiled := regexp.MustCompile(re)
	deadline := time.After(waitFor)
	for {
		if m := compiled.FindStringSubmatch(lb.String()); m != nil {
			return m
		}
		select {
		case <-lb.changed:
		case <-deadline:
			t.Fatalf("no log line matches %q in:\n%s", re, lb.String())
		}
	}
}
