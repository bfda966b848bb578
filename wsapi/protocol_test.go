package wsapi_test

import (
	"bytes"
	"github.com/chateau/chateau/chat"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestServer_Register(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		register(t, ts, "taken")

		tests := []struct {
			name   string
			req    msg
			status int
		}{
			{"new name", msg{"type": "RegisterRequest", "username": "ann_1.x-y"}, 200},
			{"longest name", msg{"type": "RegisterRequest", "username": strings.Repeat("a", 32)}, 200},
			{"missing username", msg{"type": "RegisterRequest"}, 400},
			{"null username", msg{"type": "RegisterRequest", "username": nil}, 400},
			{"empty username", msg{"type": "RegisterRequest", "username": ""}, 400},
			{"too long", msg{"type": "RegisterRequest", "username": strings.Repeat("a", 33)}, 400},
			{"space", msg{"type": "RegisterRequest", "username": "ann smith"}, 400},
			{"non-ASCII", msg{"type": "RegisterRequest", "username": "zoë"}, 400},
			{"number", msg{"type": "RegisterRequest", "username": 7}, 400},
			{"online elsewhere", msg{"type": "RegisterRequest", "username": "taken"}, 302},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := dial(t, ts)
				tt.req["messageID"] = "m1"
				got := c.roundTrip(tt.req)
				want := "RegisterResponse"
				if tt.status != 200 {
					want = "ErrorResponse"
					if got["reason"] == "" || got["request"] != "RegisterRequest" {
						t.Errorf("error without reason or request: %v", got)
					}
				}
				if got["type"] != want || got["status"] != float64(tt.status) || got["messageID"] != "m1" {
					t.Fatalf("got %v, want %s %d echoing messageID", got, want, tt.status)
				}
			})
		}
	})
}

func TestServer_Register_Twice(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		for _, name := range []string{"ann", "bob"} {
			ann.send(msg{"type": "RegisterRequest", "username": name})
			if m := ann.expect("ErrorResponse", 302); !strings.Contains(m["reason"].(string), "already registered") {
				t.Errorf("reason %q", m["reason"])
			}
		}
		// A name whose connection closed can be registered again.
		ann.ws.Close()
		deadlineRegister(t, ts, "ann")
	})
}

// deadlineRegister registers name, retrying while the server still has the
// name's previous connection online (its close is asynchronous).
func deadlineRegister(t *testing.T, ts *testServer, name string) *conn {
	t.Helper()
	for range 200 {
		c := dial(t, ts)
		m := c.roundTrip(msg{"type": "RegisterRequest", "username": name})
		if m["status"] == float64(200) {
			return c
		}
		if m["status"] != float64(302) {
			t.Fatalf("register %s: %v", name, m)
		}
		c.ws.Close()
	}
	t.Fatalf("register %s: still online after 200 tries", name)
	return nil
}

func TestServer_NotRegistered(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		c := dial(t, ts)
		for _, typ := range []string{"GroupMessageInitRequest", "GroupMessageRequest", "ClientListRequest", "RandomMessageRequest", "SingleMessageRequest"} {
			for _, req := range []msg{
				{"type": typ},
				{"type": typ, "chatname": 5, "content": []int{1}, "recipients": "x", "recipient": nil, "messageID": 9},
			} {
				got := c.roundTrip(req)
				if got["type"] != "ErrorResponse" || got["status"] != float64(301) || got["request"] != typ {
					t.Errorf("%v: got %v, want 301", req, got)
				}
				if id, ok := req["messageID"]; ok && got["messageID"] != float64(id.(int)) {
					t.Errorf("%v: messageID not echoed: %v", req, got)
				}
			}
		}
	})
}

func TestServer_BadFrames(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		for _, registered := range []bool{false, true} {
			var c *conn
			if registered {
				c = register(t, ts, "ann")
			} else {
				c = dial(t, ts)
			}
			tests := []struct {
				name    string
				frame   string
				request string
			}{
				{"invalid JSON", `{"type":`, ""},
				{"array", `[1,2]`, ""},
				{"string", `"RegisterRequest"`, ""},
				{"null", `null`, ""},
				{"missing type", `{"username":"x"}`, ""},
				{"type not a string", `{"type":3}`, ""},
				{"unknown type", `{"type":"FooRequest"}`, ""},
				{"response type", `{"type":"RegisterResponse"}`, ""},
				{"messageID object", `{"type":"ClientListRequest","messageID":{}}`, ""},
			}
			for _, tt := range tests {
				c.sendRaw(websocket.TextMessage, []byte(tt.frame))
				got := c.expect("ErrorResponse", 400)
				if got["reason"] == "" {
					t.Errorf("%s: no reason: %v", tt.name, got)
				}
			}
			// The connection still works.
			if !registered {
				c.send(msg{"type": "RegisterRequest", "username": "bob"})
				c.expect("RegisterResponse", 200)
			}
			c.send(msg{"type": "ClientListRequest"})
			c.expect("ClientListResponse", 200)
		}
	})
}

// TestServer_ControlFrames sends pongs between requests, whole and split
// across writes: the server takes them silently and answers the requests
// around them in order. A ping gets its pong.
func TestServer_ControlFrames(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		c := register(t, ts, "ann")
		pongs := make(chan string, 1)
		c.ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
		// A client's frame with a zero mask, which leaves the payload as is.
		frame := func(first byte, payload string) []byte {
			return append([]byte{first, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
		}
		join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
		request := frame(0x81, `{"type":"ClientListRequest"}`)
		pong := frame(0x8A, "abc")
		// Each write is followed by the answers to the requests in it, so that
		// the next write finds the server idle or, after a split frame, not.
		tests := []struct {
			name    string
			writes  [][]byte
			answers []int
		}{
			{"pong", [][]byte{frame(0x8A, ""), request}, []int{0, 1}},
			{"pong with payload", [][]byte{pong, request}, []int{0, 1}},
			{"pong and request at once", [][]byte{join(pong, request)}, []int{1}},
			{"request and pong at once", [][]byte{join(request, pong), request}, []int{1, 1}},
			{"pong split", [][]byte{pong[:3], join(pong[3:], request)}, []int{0, 1}},
			{"pong split in its header", [][]byte{pong[:1], join(pong[1:], request)}, []int{0, 1}},
			{"pong split after a request", [][]byte{join(request, pong[:4]), join(pong[4:], request)}, []int{1, 1}},
			{"many pongs", [][]byte{bytes.Repeat(pong, 100), request}, []int{0, 1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for i, w := range tt.writes {
					if _, err := c.ws.NetConn().Write(w); err != nil {
						t.Fatal(err)
					}
					for range tt.answers[i] {
						c.expect("ClientListResponse", 200)
					}
				}
				c.expectNothingQueued()
			})
		}
		t.Run("ping", func(t *testing.T) {
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(waitFor)); err != nil {
				t.Fatal(err)
			}
			c.send(msg{"type": "ClientListRequest", "messageID": "after"})
			// The client's reader runs the pong handler.
			if m := c.expect("ClientListResponse", 200); m["messageID"] != "after" {
				t.Fatalf("got %v", m)
			}
			select {
			case got := <-pongs:
				if got != "hello" {
					t.Errorf("pong %q, want hello", got)
				}
			case <-time.After(waitFor):
				t.Fatal("no pong")
			}
		})
	})
}

func TestServer_GroupMessageInit(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		bob := register(t, ts, "bob")
		carl := register(t, ts, "carl")
		register(t, ts, "dora").ws.Close() // registered, then offline

		ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "Team 🚀", "recipients": []string{"bob", "dora", "bob", "ann"}, "content": "hi all", "messageID": "x"})
		ack := ann.expect("GroupMessageInitResponse", 200)
		if ack["chatname"] != "Team 🚀" || ack["messageID"] != "x" || ack["id"] == nil {
			t.Fatalf("ack %v", ack)
		}
		got := bob.expect("GroupMessageRecv", 201)
		for k, v := range map[string]any{"chatname": "Team 🚀", "sender": "ann", "content": "hi all", "id": ack["id"], "time": ack["time"]} {
			if got[k] != v {
				t.Errorf("recv %s = %v, want %v", k, got[k], v)
			}
		}
		carl.expectNothingQueued()
		ann.expectNothingQueued()

		tests := []struct {
			name   string
			req    msg
			status int
			reason string
		}{
			{"chat exists", msg{"chatname": "Team 🚀", "recipients": []string{"bob"}, "content": "x"}, 302, "already exists"},
			{"unknown recipient", msg{"chatname": "c2", "recipients": []string{"bob", "zed"}, "content": "x"}, 404, `"zed"`},
			{"missing recipients", msg{"chatname": "c2", "content": "x"}, 400, "recipients"},
			{"empty recipients", msg{"chatname": "c2", "recipients": []string{}, "content": "x"}, 400, "recipients"},
			{"recipients not strings", msg{"chatname": "c2", "recipients": []int{1}, "content": "x"}, 400, "recipients"},
			{"bad recipient name", msg{"chatname": "c2", "recipients": []string{"a b"}, "content": "x"}, 400, "a b"},
			{"too many recipients", msg{"chatname": "c2", "recipients": make([]string, 257), "content": "x"}, 400, "limit"},
			{"missing content", msg{"chatname": "c2", "recipients": []string{"bob"}}, 400, "content"},
			{"content not a string", msg{"chatname": "c2", "recipients": []string{"bob"}, "content": 1}, 400, "content"},
			{"missing chatname", msg{"recipients": []string{"bob"}, "content": "x"}, 400, "chatname"},
			{"empty chatname", msg{"chatname": "", "recipients": []string{"bob"}, "content": "x"}, 400, "chatname"},
			{"long chatname", msg{"chatname": strings.Repeat("é", 65), "recipients": []string{"bob"}, "content": "x"}, 400, "chatname"},
			{"control character", msg{"chatname": "a\nb", "recipients": []string{"bob"}, "content": "x"}, 400, "chatname"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req["type"] = "GroupMessageInitRequest"
				got := ann.roundTrip(tt.req)
				if got["type"] != "ErrorResponse" || got["status"] != float64(tt.status) || !strings.Contains(got["reason"].(string), tt.reason) {
					t.Fatalf("got %v, want %d with reason containing %q", got, tt.status, tt.reason)
				}
			})
		}
		bob.expectNothingQueued()
		if m := ann.roundTrip(msg{"type": "GroupMessageInitRequest", "chatname": strings.Repeat("é", 64), "recipients": []string{"carl"}, "content": "x"}); m["status"] != float64(200) {
			t.Fatalf("64-character chat name: %v", m)
		}
	})
}

func TestServer_GroupMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		bob := register(t, ts, "bob")
		eve := register(t, ts, "eve")
		ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "pair", "recipients": []string{"bob"}, "content": "first"})
		ann.expect("GroupMessageInitResponse", 200)
		bob.expect("GroupMessageRecv", 201)

		bob.send(msg{"type": "GroupMessageRequest", "chatname": "pair", "content": "reply", "messageID": 42})
		ack := bob.expect("GroupMessageResponse", 200)
		if ack["chatname"] != "pair" || ack["messageID"] != float64(42) || ack["id"] == nil {
			t.Fatalf("ack %v", ack)
		}
		got := ann.expect("GroupMessageRecv", 200)
		if got["sender"] != "bob" || got["content"] != "reply" || got["id"] != ack["id"] || got["chatname"] != "pair" || got["time"] == nil {
			t.Fatalf("recv %v", got)
		}
		bob.expectNothingQueued()
		eve.expectNothingQueued()

		tests := []struct {
			name   string
			req    msg
			status int
		}{
			{"not a member", msg{"chatname": "pair", "content": "hi"}, 403},
			{"no such chat", msg{"chatname": "nope", "content": "hi"}, 404},
			{"missing chatname", msg{"content": "hi"}, 400},
			{"missing content", msg{"chatname": "pair"}, 400},
			{"content not a string", msg{"chatname": "pair", "content": true}, 400},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req["type"] = "GroupMessageRequest"
				got := eve.roundTrip(tt.req)
				if got["type"] != "ErrorResponse" || got["status"] != float64(tt.status) || got["request"] != "GroupMessageRequest" {
					t.Fatalf("got %v, want %d", got, tt.status)
				}
			})
		}
		ann.expectNothingQueued()
		bob.expectNothingQueued()
	})
}

func TestServer_ClientList(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		zed := register(t, ts, "zed")
		register(t, ts, "ann")
		register(t, ts, "Bob")
		got := zed.roundTrip(msg{"type": "ClientListRequest", "messageID": "l"})
		if got["type"] != "ClientListResponse" || got["status"] != float64(200) || got["messageID"] != "l" {
			t.Fatalf("got %v", got)
		}
		if want := []any{"Bob", "ann", "zed"}; !equalAny(got["clients"], want) {
			t.Fatalf("clients %v, want %v", got["clients"], want)
		}
	})
}

func equalAny(got any, want []any) bool {
	g, ok := got.([]any)
	if !ok || len(g) != len(want) {
		return false
	}
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}

func TestServer_RandomMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		ann.send(msg{"type": "RandomMessageRequest", "content": "anyone?"})
		ann.expect("ErrorResponse", 404)
		ann.send(msg{"type": "RandomMessageRequest"})
		ann.expect("ErrorResponse", 400)

		bob := register(t, ts, "bob")
		ann.send(msg{"type": "RandomMessageRequest", "content": "hello stranger", "messageID": "r"})
		ack := ann.expect("RandomMessageResponse", 200)
		if ack["clients"] != "bob" || ack["messageID"] != "r" || ack["id"] == nil {
			t.Fatalf("ack %v", ack)
		}
		got := bob.expect("SingleMessageRecv", 200)
		if got["sender"] != "ann" || got["content"] != "hello stranger" || got["random"] != true || got["id"] != ack["id"] {
			t.Fatalf("recv %v", got)
		}
	})
}

func TestServer_SingleMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		bob := register(t, ts, "bob")
		register(t, ts, "carl").ws.Close()

		ann.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "psst", "messageID": "s"})
		ack := ann.expect("SingleMessageResponse", 200)
		if ack["recipient"] != "bob" || ack["messageID"] != "s" || ack["id"] == nil {
			t.Fatalf("ack %v", ack)
		}
		got := bob.expect("SingleMessageRecv", 200)
		if got["sender"] != "ann" || got["content"] != "psst" || got["id"] != ack["id"] || got["random"] != nil {
			t.Fatalf("recv %v", got)
		}
		// An offline recipient's message is accepted and stored.
		ann.send(msg{"type": "SingleMessageRequest", "recipient": "carl", "content": "later"})
		ann.expect("SingleMessageResponse", 200)

		tests := []struct {
			name   string
			req    msg
			status int
		}{
			{"never registered", msg{"recipient": "zed", "content": "x"}, 404},
			{"bad name", msg{"recipient": "z z", "content": "x"}, 400},
			{"yourself", msg{"recipient": "ann", "content": "x"}, 400},
			{"missing recipient", msg{"content": "x"}, 400},
			{"missing content", msg{"recipient": "bob"}, 400},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req["type"] = "SingleMessageRequest"
				got := ann.roundTrip(tt.req)
				if got["type"] != "ErrorResponse" || got["status"] != float64(tt.status) {
					t.Fatalf("got %v, want %d", got, tt.status)
				}
			})
		}
		bob.expectNothingQueued()
	})
}
