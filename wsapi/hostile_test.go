package wsapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/gorilla/websocket"
)

// TestServer_HostileInput sends each hostile frame on a registered
// connection: each gets its documented answer, the connection keeps
// working (unless the answer is a close), nothing is stored, and the log
// stays valid.
func TestServer_HostileInput(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	register(t, ts, "bob")
	responseTypes := []string{"RegisterResponse", "GroupMessageInitResponse", "GroupMessageResponse", "GroupMessageRecv",
		"ClientListResponse", "RandomMessageResponse", "SingleMessageResponse", "SingleMessageRecv", "ErrorResponse", "SessionReplaced",
		"ChatListResponse", "HistoryResponse", "ReplayComplete"}

	tests := []struct {
		name   string
		kind   int
		frame  string
		status int // 0: the connection is closed with closeCode
		close  int
	}{
		{"invalid UTF-8", websocket.TextMessage, "{\"type\":\"SingleMessageRequest\",\"recipient\":\"bob\",\"content\":\"\xff\xfe\"}", 400, 0},
		{"null in recipient", websocket.TextMessage, `{"type":"SingleMessageRequest","recipient":"bo\u0000b","content":"x"}`, 400, 0},
		{"newline in chatname", websocket.TextMessage, `{"type":"GroupMessageInitRequest","recipients":["bob"],"chatname":"a\u000ab","content":"x"}`, 400, 0},
		{"null in chatname", websocket.TextMessage, `{"type":"GroupMessageInitRequest","recipients":["bob"],"chatname":"a\u0000","content":"x"}`, 400, 0},
		{"escape in chatname", websocket.TextMessage, `{"type":"GroupMessageInitRequest","recipients":["bob"],"chatname":"\u001b[31m","content":"x"}`, 400, 0},
		{"deeply nested", websocket.TextMessage, `{"type":"SingleMessageRequest","recipient":"bob","content":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, 400, 0},
		{"nesting over 10000 levels", websocket.TextMessage, `{"type":"ClientListRequest","x":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + `}`, 400, 0},
		{"number for string", websocket.TextMessage, `{"type":"SingleMessageRequest","recipient":42,"content":"x"}`, 400, 0},
		{"array for string", websocket.TextMessage, `{"type":"GroupMessageRequest","chatname":["a"],"content":"x"}`, 400, 0},
		{"object for array", websocket.TextMessage, `{"type":"GroupMessageInitRequest","recipients":{"bob":1},"chatname":"c","content":"x"}`, 400, 0},
		{"duplicate keys: last wins", websocket.TextMessage, `{"type":"SingleMessageRequest","recipient":"nobody","recipient":"zed","content":"x"}`, 404, 0},
		{"binary frame", websocket.BinaryMessage, `{"type":"ClientListRequest"}`, 400, 0},
		{"empty frame", websocket.TextMessage, ``, 400, 0},
		{"huge number", websocket.TextMessage, `{"type":"ClientListRequest","messageID":1e999999}`, 400, 0},
		{"1 MB string", websocket.TextMessage, `{"type":"SingleMessageRequest","recipient":"bob","content":"` + strings.Repeat("x", 1<<20) + `"}`, 0, websocket.CloseMessageTooBig},
	}
	for _, typ := range responseTypes {
		tests = append(tests, struct {
			name   string
			kind   int
			frame  string
			status int
			close  int
		}{"type " + typ, websocket.TextMessage, `{"type":"` + typ + `","status":200}`, 400, 0})
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := register(t, ts, fmt.Sprintf("mallory%d", i))
			defer c.ws.Close()
			// The server may close before a frame over the limit is written.
			_ = c.ws.WriteMessage(tt.kind, []byte(tt.frame))
			if tt.status == 0 {
				if _, code := c.readUntilClose(); code != tt.close {
					t.Fatalf("close code %d, want %d", code, tt.close)
				}
				return
			}
			m := c.recv()
			if m["status"] != float64(tt.status) {
				t.Fatalf("got %v, want status %d", m, tt.status)
			}
			if tt.status >= 400 && (m["type"] != "ErrorResponse" || m["reason"] == "") {
				t.Fatalf("error without reason: %v", m)
			}
			c.send(msg{"type": "ClientListRequest"})
			c.expect("ClientListResponse", 200)
		})
	}
	if n := len(dumpMessages(t, l)); n != 0 {
		t.Fatalf("%d messages stored, want none", n)
	}
	if err := l.Check(); err != nil && err != eventlog.ErrClosed {
		t.Fatal(err)
	}
}
