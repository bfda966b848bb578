package wsapi_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// The issue 14 features (spec14: presence, unread counts, members, edits,
// deletions, typing, passwords) on real sockets. Helpers shared by the
// features_*_test.go files and cluster_features_test.go live here.

// user is a registered user's connection. Its reads set PresenceChanged
// pushes aside (they come whenever a partner's connection opens or
// closes, on a cluster at a time of its own); the presence tests read
// them with nextPresence. A push about the user themself fails the test.
type user struct {
	*conn
	name     string
	presence []msg // PresenceChanged pushes read but not yet taken
}

// asUser is c, registered as name, as a user: it keeps the
// PresenceChanged frames that conn's reads skip, to set them aside.
func asUser(c *conn, name string) *user {
	c.keepPresence = true
	return &user{conn: c, name: name}
}

// signUp registers name on ts (no password) and returns its connection.
func signUp(t *testing.T, ts *testServer, name string) *user {
	t.Helper()
	return asUser(register(t, ts, name), name)
}

// signUpAgain registers name on ts once its previous connection, closed,
// has gone.
func signUpAgain(t *testing.T, ts *testServer, name string) *user {
	t.Helper()
	return asUser(deadlineRegister(t, ts, name), name)
}

// signUpWith registers name with password on ts.
func signUpWith(t *testing.T, ts *testServer, name, password string) *user {
	t.Helper()
	c := dial(t, ts)
	if m := c.signIn(name, password); m["type"] != "RegisterResponse" || m["status"] != float64(200) {
		t.Fatalf("register %s with a password: %v", name, m)
	}
	return asUser(c, name)
}

// next reads the next frame other than a PresenceChanged.
func (u *user) next() msg {
	u.t.Helper()
	for {
		m := u.recv()
		if m["type"] != "PresenceChanged" {
			return m
		}
		u.setAside(m)
	}
}

func (u *user) setAside(m msg) {
	u.t.Helper()
	if m["username"] == u.name {
		u.t.Errorf("%s told of their own presence: %v", u.name, m)
	}
	u.presence = append(u.presence, m)
}

// nextPresence returns the oldest PresenceChanged not yet taken, reading
// until one comes; any other frame before it fails the test.
func (u *user) nextPresence() msg {
	u.t.Helper()
	for len(u.presence) == 0 {
		m := u.recv()
		if m["type"] != "PresenceChanged" {
			u.t.Fatalf("%s: want a PresenceChanged, got %v", u.name, m)
		}
		u.setAside(m)
	}
	m := u.presence[0]
	u.presence = u.presence[1:]
	return m
}

// wantPresence checks that u's next PresenceChanged says name went online
// or offline.
func (u *user) wantPresence(name string, online bool) {
	u.t.Helper()
	m := u.nextPresence()
	if m["status"] != float64(200) || m["username"] != name || m["online"] != online || m["messageID"] != nil {
		u.t.Fatalf("%s: got %v, want PresenceChanged 200 {username: %s, online: %v}", u.name, m, name, online)
	}
}

// want reads the next frame (skipping presence) and checks its type and
// status.
func (u *user) want(typ string, status int) msg {
	u.t.Helper()
	m := u.next()
	if m["type"] != typ || m["status"] != float64(status) {
		u.t.Fatalf("%s: got %v, want %s %d", u.name, m, typ, status)
	}
	return m
}

// ask sends req and returns the next frame (skipping presence).
func (u *user) ask(req msg) msg {
	u.t.Helper()
	u.send(req)
	return u.next()
}

// ok sends req and checks that the next frame is typ 200 echoing req's
// messageID (which it sets if missing).
func (u *user) ok(req msg, typ string) msg {
	u.t.Helper()
	if req["messageID"] == nil {
		req["messageID"] = fmt.Sprint(req["type"], "-", time.Now().UnixNano())
	}
	m := u.ask(req)
	if m["type"] != typ || m["status"] != float64(200) || m["messageID"] != req["messageID"] {
		u.t.Fatalf("%s: %v answered %v, want %s 200 echoing messageID", u.name, req, m, typ)
	}
	return m
}

// refused sends req with a messageID and checks that the answer is an
// ErrorResponse with status, a reason, and req's type and messageID.
func (u *user) refused(what string, req msg, status int) msg {
	u.t.Helper()
	req["messageID"] = "refused"
	m := u.ask(req)
	if m["type"] != "ErrorResponse" || m["status"] != float64(status) || m["request"] != req["type"] ||
		m["messageID"] != "refused" || m["reason"] == nil || m["reason"] == "" {
		u.t.Errorf("%s: %s %v answered %v, want ErrorResponse %d", what, u.name, req, m, status)
	}
	return m
}

// idle checks that no frame other than presence is waiting for u: the
// answer to a ClientListRequest comes first. The server queues a
// request's pushes before it answers the request, and answers a
// connection's requests in order; so once the request that could cause a
// push is answered, idle proves there was none.
func (u *user) idle() {
	u.t.Helper()
	u.send(msg{"type": "ClientListRequest", "messageID": "idle"})
	if m := u.next(); m["type"] != "ClientListResponse" || m["messageID"] != "idle" {
		u.t.Fatalf("%s: unexpected frame %v", u.name, m)
	}
}

// createChat creates chat with members (besides u), each of whom is online
// and gets the first message; it returns its id.
func (u *user) createChat(chat, content string, members ...*user) string {
	u.t.Helper()
	var names []string
	for _, m := range members {
		names = append(names, m.name)
	}
	ack := u.ok(msg{"type": "GroupMessageInitRequest", "chatname": chat, "recipients": names, "content": content}, "GroupMessageInitResponse")
	for _, m := range members {
		if got := m.want("GroupMessageRecv", 201); got["id"] != ack["id"] {
			m.t.Fatalf("%s got %v, want the first message of %s", m.name, got, chat)
		}
	}
	return ack["id"].(string)
}

// postTo posts content to chat and returns its id; each of others gets it.
func (u *user) postTo(chat, content string, others ...*user) string {
	u.t.Helper()
	ack := u.ok(msg{"type": "GroupMessageRequest", "chatname": chat, "content": content}, "GroupMessageResponse")
	for _, o := range others {
		if got := o.want("GroupMessageRecv", 200); got["id"] != ack["id"] || got["content"] != content {
			o.t.Fatalf("%s got %v, want %s's %q", o.name, got, u.name, content)
		}
	}
	return ack["id"].(string)
}

// dm sends to a direct message and returns its id; to gets it unless nil
// (offline).
func (u *user) dm(to *user, name, content string) string {
	u.t.Helper()
	ack := u.ok(msg{"type": "SingleMessageRequest", "recipient": name, "content": content}, "SingleMessageResponse")
	if to != nil {
		if got := to.want("SingleMessageRecv", 200); got["id"] != ack["id"] {
			to.t.Fatalf("%s got %v, want %s's %q", to.name, got, u.name, content)
		}
	}
	return ack["id"].(string)
}

// chatList returns u's ChatListResponse.
func (u *user) chatList() msg {
	u.t.Helper()
	return u.ok(msg{"type": "ChatListRequest"}, "ChatListResponse")
}

// chatEntry is chat's entry in u's chat list, or nil.
func (u *user) chatEntry(chat string) msg {
	u.t.Helper()
	for _, c := range list(u.t, u.chatList(), "chats") {
		if c["chatname"] == chat {
			return c
		}
	}
	return nil
}

// directEntries is the "direct" list of u's chat list.
func (u *user) directEntries() []msg {
	u.t.Helper()
	return list(u.t, u.chatList(), "direct")
}

// history returns the messages of u's HistoryRequest for where (a
// chatname or recipient), checking that it is answered 200.
func (u *user) history(where msg) []msg {
	u.t.Helper()
	req := msg{"type": "HistoryRequest"}
	for k, v := range where {
		req[k] = v
	}
	return list(u.t, u.ok(req, "HistoryResponse"), "messages")
}

// list is m's array key as objects; a missing key or null fails the test.
func list(t testing.TB, m msg, key string) []msg {
	t.Helper()
	xs, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%s is not an array in %v", key, m)
	}
	out := make([]msg, len(xs))
	for i, x := range xs {
		out[i] = x.(map[string]any)
	}
	return out
}

// messageWithID is the message with id in ms, or nil.
func messageWithID(ms []msg, id string) msg {
	for _, m := range ms {
		if m["id"] == id {
			return m
		}
	}
	return nil
}

// Special values of match's want.
type (
	absentValue  struct{}
	presentValue struct{}
)

var (
	absent  = absentValue{}  // the key must be missing
	present = presentValue{} // the key must be a non-empty string
)

// match checks that m has every key of want with an equal value (compared
// as JSON), or absent/present; it reports each mismatch and returns false
// if there was one.
func match(t testing.TB, what string, m, want msg) bool {
	t.Helper()
	good := true
	for k, w := range want {
		v, ok := m[k]
		switch w.(type) {
		case absentValue:
			if ok {
				t.Errorf("%s: %s = %v, want no such key in %v", what, k, v, m)
				good = false
			}
			continue
		case presentValue:
			if s, _ := v.(string); s == "" {
				t.Errorf("%s: %s = %v, want a non-empty string in %v", what, k, v, m)
				good = false
			}
			continue
		}
		if got, wantJSON := jsonOf(v), jsonOf(w); !ok || got != wantJSON {
			t.Errorf("%s: %s = %s, want %s in %v", what, k, got, wantJSON, m)
			good = false
		}
	}
	return good
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// countRecords is the number of records in l: a request that stores
// nothing leaves it as it was.
func countRecords(t testing.TB, l chat.Log) int {
	t.Helper()
	n := 0
	if err := l.Scan(ulid.ULID{}, func(eventlog.Record) error { n++; return nil }); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return n
}

// unknownID is a well-formed id that names nothing in any log.
var unknownID = ulid.MustNew(1, nil).String()

// TestFeatures_NotRegistered: every new request gets 301 before
// registration, echoing its type and messageID.
func TestFeatures_NotRegistered(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		signUp(t, ts, "bob")
		c := asUser(dial(t, ts), "nobody")
		for _, req := range []msg{
			{"type": "MarkReadRequest", "chatname": "c", "id": unknownID},
			{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"bob"}},
			{"type": "ChatLeaveRequest", "chatname": "c"},
			{"type": "EditMessageRequest", "id": unknownID, "content": "x"},
			{"type": "DeleteMessageRequest", "id": unknownID},
			{"type": "TypingRequest", "recipient": "bob"},
			{"type": "ChangePasswordRequest", "new": "a new password"},
			{"type": "ChatListRequest"},
		} {
			c.refused("not registered", req, 301)
		}
	})
}

// refusal is a request of u's that must be refused with status.
type refusal struct {
	name   string
	u      *user
	req    msg
	status int
}

// refuseAll checks each refusal, setting its type to typ unless empty.
func refuseAll(typ string, rs []refusal) {
	for _, r := range rs {
		if typ != "" {
			r.req["type"] = typ
		}
		r.u.t.Helper()
		r.u.refused(r.name, r.req, r.status)
	}
}
