package wsapi_test

import (
	"fmt"
	"github.com/chateau/chateau/chat"
	"strings"
	"sync"
	"testing"
)

// post sends n messages from c to chat, waiting for each ack, and returns
// their ids in order.
func post(t *testing.T, c *conn, chat string, n int, prefix string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		c.send(msg{"type": "GroupMessageRequest", "chatname": chat, "content": fmt.Sprintf("%s%d", prefix, i)})
		for {
			m := c.recv()
			if m["type"] == "GroupMessageResponse" {
				ids = append(ids, m["id"].(string))
				break
			}
		}
	}
	return ids
}

func historyIDs(t *testing.T, m msg) []string {
	t.Helper()
	if m["type"] != "HistoryResponse" || m["status"] != float64(200) {
		t.Fatalf("got %v, want HistoryResponse 200", m)
	}
	var ids []string
	for _, x := range m["messages"].([]any) {
		mm := x.(map[string]any)
		if mm["sender"] == "" || mm["time"] == "" {
			t.Fatalf("message without sender or time: %v", mm)
		}
		ids = append(ids, mm["id"].(string))
	}
	return ids
}

func TestServer_History_Chat(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		register(t, ts, "bob").ws.Close()
		eve := register(t, ts, "eve")
		ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"bob"}, "content": "first"})
		all := []string{ann.expect("GroupMessageInitResponse", 200)["id"].(string)}
		all = append(all, post(t, ann, "c", 11, "m")...) // 12 in all

		tests := []struct {
			name string
			req  msg
			want []string
			more bool
		}{
			{"newest by default", msg{"limit": 5}, all[7:], true},
			{"all fit", msg{}, all, false},
			{"before", msg{"before": all[7], "limit": 5}, all[2:7], true},
			{"before, reaching the start", msg{"before": all[3], "limit": 5}, all[:3], false},
			{"after", msg{"after": all[2], "limit": 4}, all[3:7], true},
			{"after, reaching the end", msg{"after": all[8], "limit": 5}, all[9:], false},
			{"after the last", msg{"after": all[11]}, nil, false},
			{"limit 1", msg{"limit": 1}, all[11:], true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req["type"], tt.req["chatname"], tt.req["messageID"] = "HistoryRequest", "c", "h"
				m := ann.roundTrip(tt.req)
				if got := historyIDs(t, m); strings.Join(got, ",") != strings.Join(tt.want, ",") || m["more"] != tt.more || m["messageID"] != "h" || m["chatname"] != "c" {
					t.Fatalf("got %v more=%v, want %v more=%v", got, m["more"], tt.want, tt.more)
				}
			})
		}
		m := ann.roundTrip(msg{"type": "HistoryRequest", "chatname": "c", "limit": 2})
		first := m["messages"].([]any)[1].(map[string]any)
		if first["content"] != "m10" || first["sender"] != "ann" {
			t.Fatalf("message %v", first)
		}

		errs := []struct {
			name   string
			c      *conn
			req    msg
			status int
		}{
			{"not a member", eve, msg{"chatname": "c"}, 403},
			{"no such chat", ann, msg{"chatname": "nope"}, 404},
			{"no such user", ann, msg{"recipient": "zed"}, 404},
			{"neither", ann, msg{}, 400},
			{"both", ann, msg{"chatname": "c", "recipient": "bob"}, 400},
			{"before and after", ann, msg{"chatname": "c", "before": all[5], "after": all[1]}, 400},
			{"bad id", ann, msg{"chatname": "c", "before": "nope"}, 400},
			{"limit 0", ann, msg{"chatname": "c", "limit": 0}, 400},
			{"limit 201", ann, msg{"chatname": "c", "limit": 201}, 400},
			{"limit not a number", ann, msg{"chatname": "c", "limit": "5"}, 400},
		}
		for _, tt := range errs {
			t.Run(tt.name, func(t *testing.T) {
				tt.req["type"] = "HistoryRequest"
				if m := tt.c.roundTrip(tt.req); m["type"] != "ErrorResponse" || m["status"] != float64(tt.status) || m["request"] != "HistoryRequest" {
					t.Fatalf("got %v, want %d", m, tt.status)
				}
			})
		}
		c := dial(t, ts)
		c.send(msg{"type": "HistoryRequest", "chatname": "c"})
		c.expect("ErrorResponse", 301)
	})
}

func TestServer_History_Direct(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		bob := register(t, ts, "bob")
		carl := register(t, ts, "carl")
		var want []string
		ann.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "1"})
		want = append(want, ann.expect("SingleMessageResponse", 200)["id"].(string))
		bob.expect("SingleMessageRecv", 200)
		bob.send(msg{"type": "SingleMessageRequest", "recipient": "ann", "content": "2"})
		want = append(want, bob.expect("SingleMessageResponse", 200)["id"].(string))
		ann.expect("SingleMessageRecv", 200)
		carl.send(msg{"type": "SingleMessageRequest", "recipient": "ann", "content": "not yours"})
		carl.expect("SingleMessageResponse", 200)
		ann.expect("SingleMessageRecv", 200)
		carl.ws.Close()
		// With carl gone, a random message from ann can only go to bob.
		deadline := 0
		for ; deadline < 1000; deadline++ {
			if m := ann.roundTrip(msg{"type": "ClientListRequest"}); equalAny(m["clients"], []any{"ann", "bob"}) {
				break
			}
		}
		ann.send(msg{"type": "RandomMessageRequest", "content": "3"})
		want = append(want, ann.expect("RandomMessageResponse", 200)["id"].(string))
		bob.expect("SingleMessageRecv", 200)

		for _, c := range []*conn{ann, bob} {
			other := "bob"
			if c == bob {
				other = "ann"
			}
			m := c.roundTrip(msg{"type": "HistoryRequest", "recipient": other})
			if got := historyIDs(t, m); strings.Join(got, ",") != strings.Join(want, ",") || m["recipient"] != other {
				t.Fatalf("%s's history with %s: %v, want %v", other, other, got, want)
			}
			if last := m["messages"].([]any)[2].(map[string]any); last["random"] != true {
				t.Fatalf("random message not marked: %v", last)
			}
		}
		if m := bob.roundTrip(msg{"type": "HistoryRequest", "recipient": "carl"}); len(historyIDs(t, m)) != 0 {
			t.Fatalf("bob sees carl's messages to ann: %v", m)
		}
	})
}

func TestServer_ChatList(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		bob := register(t, ts, "bob")
		if m := ann.roundTrip(msg{"type": "ChatListRequest"}); m["type"] != "ChatListResponse" || len(m["chats"].([]any)) != 0 {
			t.Fatalf("no chats yet: %v", m)
		}
		for _, name := range []string{"zeta", "alpha"} {
			bob.send(msg{"type": "GroupMessageInitRequest", "chatname": name, "recipients": []string{"ann"}, "content": name})
			bob.expect("GroupMessageInitResponse", 200)
			ann.expect("GroupMessageRecv", 201)
		}
		bob.send(msg{"type": "GroupMessageInitRequest", "chatname": "bob only", "recipients": []string{"bob"}, "content": "x"})
		bob.expect("GroupMessageInitResponse", 200)
		last := post(t, bob, "zeta", 1, "z")[0]
		ann.expect("GroupMessageRecv", 200)
		m := ann.roundTrip(msg{"type": "ChatListRequest", "messageID": 1})
		chats := m["chats"].([]any)
		if len(chats) != 2 || m["messageID"] != float64(1) {
			t.Fatalf("chats %v", m)
		}
		a, z := chats[0].(map[string]any), chats[1].(map[string]any)
		if a["chatname"] != "alpha" || z["chatname"] != "zeta" || z["last_id"] != last || !equalAny(z["members"], []any{"ann", "bob"}) {
			t.Fatalf("chats %v", chats)
		}
		c := dial(t, ts)
		c.send(msg{"type": "ChatListRequest"})
		c.expect("ErrorResponse", 301)
	})
}

// TestServer_Replay: messages sent while ann is offline, before and after a
// restart, reach her through since on her next registration, in log
// order, marked as replays, followed by ReplayComplete and then live
// messages; none lost, none twice.
func TestServer_Replay(t *testing.T) {
	l, path := mustOpenLog(t)
	ts := startServer(t, l)
	ann := register(t, ts, "ann")
	bob := register(t, ts, "bob")
	bob.send(msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"ann"}, "content": "seen"})
	bob.expect("GroupMessageInitResponse", 200)
	seen := ann.expect("GroupMessageRecv", 201)["id"].(string)
	ann.ws.Close()

	want := post(t, bob, "c", 3, "missed")
	bob.send(msg{"type": "SingleMessageRequest", "recipient": "ann", "content": "direct"})
	want = append(want, bob.expect("SingleMessageResponse", 200)["id"].(string))
	bob.send(msg{"type": "GroupMessageInitRequest", "chatname": "new", "recipients": []string{"ann"}, "content": "new chat"})
	want = append(want, bob.expect("GroupMessageInitResponse", 200)["id"].(string))

	ts.stop()
	l.Close()
	l = mustReopenLog(t, path)
	ts = startServer(t, l)
	bob = register(t, ts, "bob")
	want = append(want, post(t, bob, "c", 2, "after restart")...)

	ann = dial(t, ts)
	ann.send(msg{"type": "RegisterRequest", "username": "ann", "since": seen, "messageID": "r"})
	if m := ann.expect("RegisterResponse", 200); m["last_id"] != want[len(want)-1] {
		t.Fatalf("RegisterResponse's last_id %v, want the log position %v", m["last_id"], want[len(want)-1])
	}
	var got []string
	for range want {
		m := ann.recv()
		if m["replay"] != true || (m["type"] != "GroupMessageRecv" && m["type"] != "SingleMessageRecv") {
			t.Fatalf("want a replayed message, got %v", m)
		}
		got = append(got, m["id"].(string))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	done := ann.expect("ReplayComplete", 200)
	if done["count"] != float64(len(want)) || done["last_id"] != want[len(want)-1] || done["messageID"] != "r" {
		t.Fatalf("ReplayComplete %v", done)
	}
	live := post(t, bob, "c", 1, "live")[0]
	if m := ann.expect("GroupMessageRecv", 200); m["id"] != live || m["replay"] != nil {
		t.Fatalf("live message %v", m)
	}

	// Nothing newer: an empty replay.
	ann.ws.Close()
	ann = deadlineRegisterSince(t, ts, "ann", live)
	if m := ann.expect("ReplayComplete", 200); m["count"] != float64(0) {
		t.Fatalf("empty replay %v", m)
	}
	c := dial(t, ts)
	c.send(msg{"type": "RegisterRequest", "username": "carl", "since": "not-an-id"})
	c.expect("ErrorResponse", 400)
}

func deadlineRegisterSince(t *testing.T, ts *testServer, name, since string) *conn {
	t.Helper()
	for range 200 {
		c := dial(t, ts)
		m := c.roundTrip(msg{"type": "RegisterRequest", "username": name, "since": since})
		if m["status"] == float64(200) {
			return c
		}
		c.ws.Close()
	}
	t.Fatalf("register %s: still online", name)
	return nil
}

// TestServer_Replay_Live replays 3,000 messages while another member keeps
// posting: the client gets every message exactly once, in log order.
func TestServer_Replay_Live(t *testing.T) {
	const missed, live = 3000, 200
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann := register(t, ts, "ann")
		bob := register(t, ts, "bob")
		bob.send(msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"ann"}, "content": "start"})
		bob.expect("GroupMessageInitResponse", 200)
		start := ann.expect("GroupMessageRecv", 201)["id"].(string)
		ann.ws.Close()
		for i := range missed {
			if err := bob.ws.WriteJSON(msg{"type": "GroupMessageRequest", "chatname": "c", "content": fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for range missed {
			bob.expect("GroupMessageResponse", 200)
		}

		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range live {
				if err := bob.ws.WriteJSON(msg{"type": "GroupMessageRequest", "chatname": "c", "content": fmt.Sprint("live", i)}); err != nil {
					return
				}
			}
		}()
		ann = deadlineRegisterSince(t, ts, "ann", start)
		var ids []string
		replayed, complete := 0, false
		for len(ids) < missed+live {
			m := ann.recv()
			switch {
			case m["type"] == "ReplayComplete":
				if complete || m["count"] != float64(replayed) {
					t.Fatalf("ReplayComplete %v after %d replays", m, replayed)
				}
				complete = true
				continue
			case m["replay"] == true:
				if complete {
					t.Fatal("a replayed message after ReplayComplete")
				}
				replayed++
			case !complete:
				t.Fatalf("a live message before ReplayComplete: %v", m)
			}
			ids = append(ids, m["id"].(string))
		}
		wg.Wait()
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("message %d (%s) not after %s: duplicate or out of order", i, ids[i], ids[i-1])
			}
		}
		if replayed < missed {
			t.Fatalf("replayed %d, want at least %d", replayed, missed)
		}
		ann.expectNothingQueued()
	})
}
