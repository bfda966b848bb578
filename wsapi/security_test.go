package wsapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/projection"
	"github.com/chateau/chateau/wsapi"
	"github.com/gorilla/websocket"
)

// cheapPasswords keeps Argon2id fast in tests; the default cost is for
// production.
func cheapPasswords(c *chat.Core) {
	c.PasswordCost = projection.PasswordCost{Time: 1, MemoryKiB: 64}
}

func TestServer_Register_Password(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l, cheapPasswords)
		reg := func(c *conn, name string, password any) msg {
			t.Helper()
			req := msg{"type": "RegisterRequest", "username": name}
			if password != nil {
				req["password"] = password
			}
			return c.roundTrip(req)
		}
		first := dial(t, ts)
		if m := reg(first, "ann", "correct horse"); m["status"] != float64(200) {
			t.Fatalf("first registration: %v", m)
		}

		var reasons []string
		for _, tt := range []struct {
			name     string
			password any
			status   int
		}{
			{"wrong password", "wrong horse", 401},
			{"no password", nil, 401},
			{"empty password counts as none", "", 401},
			{"too short", "1234567", 400},
			{"too long", strings.Repeat("p", 257), 400},
			{"not a string", 12345678, 400},
		} {
			c := dial(t, ts)
			m := reg(c, "ann", tt.password)
			if m["type"] != "ErrorResponse" || m["status"] != float64(tt.status) {
				t.Fatalf("%s: got %v, want %d", tt.name, m, tt.status)
			}
			if tt.status == 401 {
				reasons = append(reasons, m["reason"].(string))
			}
			c.send(msg{"type": "ClientListRequest"})
			c.expect("ErrorResponse", 301) // still not registered
		}
		if reasons[0] != reasons[1] || reasons[1] != reasons[2] {
			t.Errorf("401 reasons differ: %q", reasons)
		}

		// The right password from a new connection takes the session over.
		second := dial(t, ts)
		if m := reg(second, "ann", "correct horse"); m["status"] != float64(200) {
			t.Fatalf("takeover: %v", m)
		}
		frames, code := first.readUntilClose()
		if len(frames) != 1 || frames[0]["type"] != "SessionReplaced" || code != websocket.CloseNormalClosure {
			t.Fatalf("old connection got %v and close %d, want SessionReplaced and 1000", frames, code)
		}
		if m := second.roundTrip(msg{"type": "ClientListRequest"}); !equalAny(m["clients"], []any{"ann"}) {
			t.Fatalf("clients %v", m["clients"])
		}

		// An unprotected name stays open, and stays 302 while online.
		register(t, ts, "bob")
		c := dial(t, ts)
		if m := reg(c, "bob", "any password"); m["status"] != float64(302) {
			t.Fatalf("unprotected name online: %v", m)
		}
	})
}

func TestServer_Register_RequirePassword(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l, cheapPasswords, func(c *chat.Core) { c.RequirePassword = true })
	c := dial(t, ts)
	m := c.roundTrip(msg{"type": "RegisterRequest", "username": "ann"})
	if m["status"] != float64(401) || m["reason"] != "wrong username or password" {
		t.Fatalf("no password: %v", m)
	}
	if m := c.roundTrip(msg{"type": "RegisterRequest", "username": "ann", "password": "12345678"}); m["status"] != float64(200) {
		t.Fatalf("with password: %v", m)
	}
}

func TestServer_Limits(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		register(t, ts, "bob")
		ann.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": strings.Repeat("x", 16<<10+1), "messageID": "big"})
		if m := ann.expect("ErrorResponse", 413); m["messageID"] != "big" {
			t.Fatalf("413 without messageID: %v", m)
		}
		ann.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": strings.Repeat("x", 16<<10)})
		ann.expect("SingleMessageResponse", 200)
		if n := len(dumpMessages(t, l)); n != 1 {
			t.Fatalf("%d messages stored, want 1", n)
		}
		ann.sendRaw(websocket.TextMessage, []byte(`{"type":"ClientListRequest","pad":"`+strings.Repeat("x", 64<<10)+`"}`))
		if _, code := ann.readUntilClose(); code != websocket.CloseMessageTooBig {
			t.Fatalf("close code %d, want 1009", code)
		}
	})
}

func TestServer_RateLimit(t *testing.T) {
	l, _ := mustOpenLog(t)
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := startServer(t, l, func(s *wsapi.Server) {
		s.RateLimit, s.RateBurst = 1, 3
		s.Now = func() time.Time { return frozen } // no token comes back
	})
	ann := register(t, ts, "ann") // 1
	register(t, ts, "bob")        // another connection, its own bucket
	ann.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "1"})
	ann.expect("SingleMessageResponse", 200) // 2
	ann.send(msg{"type": "ClientListRequest"})
	ann.expect("ClientListResponse", 200) // 3
	ann.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "2", "messageID": "r"})
	if m := ann.expect("ErrorResponse", 429); m["messageID"] != "r" || m["request"] != "SingleMessageRequest" || m["retry_after"] != nil {
		t.Fatalf("429 %v", m)
	}
	for range 200 {
		if err := ann.ws.WriteJSON(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "flood"}); err != nil {
			break
		}
	}
	frames, code := ann.readUntilClose()
	if code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d, want 1008", code)
	}
	for _, m := range frames {
		if m["status"] != float64(429) {
			t.Fatalf("flood got %v", m)
		}
	}
	if n := len(dumpMessages(t, l)); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestServer_MaxConns(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l, func(s *wsapi.Server) { s.MaxConns = 2 })
	a := dial(t, ts)
	dial(t, ts)
	_, resp, err := websocket.DefaultDialer.Dial(ts.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: %v, %v; want HTTP 503", err, resp)
	}
	// A slot frees when a connection closes.
	a.ws.Close()
	deadline := time.Now().Add(waitFor)
	for {
		ws, _, err := websocket.DefaultDialer.Dial(ts.url, nil)
		if err == nil {
			ws.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot after a close")
		}
		time.Sleep(10 * time.Millisecond) // polling the server's count; no signal to wait on from outside
	}
}

func TestOriginPolicy(t *testing.T) {
	check := wsapi.OriginPolicy([]string{"https://chat.example.com/"})
	for _, tt := range []struct {
		origin, host string
		want         bool
	}{
		{"", "localhost:8888", true},
		{"http://localhost:8888", "localhost:8888", true},
		{"https://chat.example.com", "localhost:8888", true},
		{"HTTPS://CHAT.EXAMPLE.COM", "localhost:8888", true},
		{"https://evil.example.com", "localhost:8888", false},
		{"http://localhost:9999", "localhost:8888", false},
		{"null", "localhost:8888", false},
	} {
		r, _ := http.NewRequest("GET", "http://"+tt.host+"/ws", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := check(r); got != tt.want {
			t.Errorf("origin %q on %s: %v, want %v", tt.origin, tt.host, got, tt.want)
		}
	}
	if !wsapi.OriginPolicy([]string{"*"})(&http.Request{Header: http.Header{"Origin": {"https://x"}}}) {
		t.Error("* must admit any origin")
	}

	l, _ := mustOpenLog(t)
	ts := startServer(t, l, func(s *wsapi.Server) { s.Upgrader.CheckOrigin = wsapi.OriginPolicy(nil) })
	_, resp, err := websocket.DefaultDialer.Dial(ts.url, http.Header{"Origin": {"https://evil.example.com"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v, %v; want HTTP 403", err, resp)
	}
}

func TestServer_Retry(t *testing.T) {
	l, path := mustOpenLog(t)
	ts := startServer(t, l)
	ann := register(t, ts, "ann")
	bob := register(t, ts, "bob")
	req := msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"bob"}, "content": "once", "messageID": "init-1"}
	first := ann.roundTrip(req)
	bob.expect("GroupMessageRecv", 201)
	if again := ann.roundTrip(req); again["type"] != "GroupMessageInitResponse" || again["id"] != first["id"] {
		t.Fatalf("retry got %v, first %v", again, first)
	}
	// Twice back to back: both may fall in one batch.
	post := msg{"type": "GroupMessageRequest", "chatname": "c", "content": "twice?", "messageID": 7}
	ann.send(post)
	ann.send(post)
	a1, a2 := ann.expect("GroupMessageResponse", 200), ann.expect("GroupMessageResponse", 200)
	if a1["id"] != a2["id"] {
		t.Fatalf("two ids for one messageID: %v %v", a1, a2)
	}
	bob.expect("GroupMessageRecv", 200)
	bob.expectNothingQueued()
	// Another user's equal messageID is their own.
	if m := bob.roundTrip(msg{"type": "GroupMessageRequest", "chatname": "c", "content": "mine", "messageID": 7}); m["id"] == a1["id"] {
		t.Fatalf("bob's request answered with ann's: %v", m)
	}
	ann.expect("GroupMessageRecv", 200)

	// After a restart the retry is still recognised.
	ts.stop()
	l.Close()
	l = mustReopenLog(t, path)
	ts = startServer(t, l)
	ann = register(t, ts, "ann")
	bob = register(t, ts, "bob")
	if m := ann.roundTrip(post); m["id"] != a1["id"] {
		t.Fatalf("retry after restart: %v, want id %v", m, a1["id"])
	}
	bob.expectNothingQueued()
	if n := len(dumpMessages(t, l)); n != 3 {
		t.Fatalf("%d messages stored, want 3", n)
	}
}
