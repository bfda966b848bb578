package wsapi_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
)

// dumpIDs returns the ids and contents of the message events in the log.
func dumpMessages(t *testing.T, l scanner) map[string]string {
	t.Helper()
	got := make(map[string]string)
	err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		e, err := projection.Decode(rec.ID, rec.Data)
		if err != nil {
			return err
		}
		switch p := e.Payload.(type) {
		case projection.ChatCreated:
			got[e.ID.String()] = p.Content
		case projection.GroupMessagePosted:
			got[e.ID.String()] = p.Content
		case projection.DirectMessageSent:
			got[e.ID.String()] = p.Content
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return got
}

type scanner interface {
	Scan(after ulid.ULID, fn func(eventlog.Record) error) error
}

func TestServer_Restart(t *testing.T) {
	l, path := mustOpenLog(t)
	ts := startServer(t, l)
	ann := register(t, ts, "ann")
	bob := register(t, ts, "bob")
	register(t, ts, "eve")
	sent := make(map[string]string)
	ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "pair", "recipients": []string{"bob"}, "content": "one"})
	sent[ann.expect("GroupMessageInitResponse", 200)["id"].(string)] = "one"
	bob.expect("GroupMessageRecv", 201)
	bob.send(msg{"type": "GroupMessageRequest", "chatname": "pair", "content": "two"})
	sent[bob.expect("GroupMessageResponse", 200)["id"].(string)] = "two"
	ann.expect("GroupMessageRecv", 200)
	ann.send(msg{"type": "SingleMessageRequest", "recipient": "eve", "content": "three"})
	sent[ann.expect("SingleMessageResponse", 200)["id"].(string)] = "three"

	ts.stop()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustReopenLog(t, path)
	if got := dumpMessages(t, l); !mapsEqual(got, sent) {
		t.Fatalf("log after restart has %v, want %v", got, sent)
	}
	ts = startServer(t, l)
	ann = register(t, ts, "ann")
	bob = register(t, ts, "bob")
	eve := register(t, ts, "eve")
	ann.send(msg{"type": "GroupMessageRequest", "chatname": "pair", "content": "four"})
	ack := ann.expect("GroupMessageResponse", 200)
	if got := bob.expect("GroupMessageRecv", 200); got["id"] != ack["id"] {
		t.Fatalf("recv %v, ack %v", got, ack)
	}
	if id := ack["id"].(string); id <= maxKey(sent) {
		t.Errorf("new id %s is not after the earlier ones", id)
	}
	eve.send(msg{"type": "GroupMessageRequest", "chatname": "pair", "content": "x"})
	eve.expect("ErrorResponse", 403)
	eve.send(msg{"type": "GroupMessageInitRequest", "chatname": "pair", "recipients": []string{"ann"}, "content": "x"})
	eve.expect("ErrorResponse", 302)
	eve.send(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "x"})
	eve.expect("SingleMessageResponse", 200)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func maxKey(m map[string]string) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return slices.Max(keys)
}

// TestServer_Ordering has several members post concurrently to one chat:
// every member must see the same sequence, equal to the log's.
func TestServer_Ordering(t *testing.T) {
	const senders, perSender = 5, 40
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	names := make([]string, senders)
	conns := make([]*conn, senders)
	for i := range names {
		names[i] = fmt.Sprintf("u%d", i)
		conns[i] = register(t, ts, names[i])
	}
	conns[0].send(msg{"type": "GroupMessageInitRequest", "chatname": "race", "recipients": names, "content": "start"})
	conns[0].expect("GroupMessageInitResponse", 200)
	for _, c := range conns[1:] {
		c.expect("GroupMessageRecv", 201)
	}

	// Each connection sends all its messages without waiting, then reads
	// until it has its own acks and everyone else's messages.
	seen := make([][]string, senders)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perSender {
				if err := c.ws.WriteJSON(msg{"type": "GroupMessageRequest", "chatname": "race", "content": fmt.Sprintf("%d-%d", i, n)}); err != nil {
					failed.Store(true)
					return
				}
			}
			for range senders * perSender {
				m, err := c.tryRecv(waitFor)
				if err != nil {
					failed.Store(true)
					return
				}
				seen[i] = append(seen[i], m["id"].(string))
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		t.Fatal("a client failed to send or receive")
	}
	var logOrder []string
	err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		e, err := projection.Decode(rec.ID, rec.Data)
		if _, ok := e.Payload.(projection.GroupMessagePosted); ok {
			logOrder = append(logOrder, rec.ID.String())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logOrder) != senders*perSender {
		t.Fatalf("log has %d messages, want %d", len(logOrder), senders*perSender)
	}
	for i := range seen {
		if !slices.Equal(seen[i], logOrder) {
			t.Fatalf("member %d saw a different order than the log", i)
		}
	}
}

func TestServer_Shutdown(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	ann := register(t, ts, "ann")
	bot := register(t, ts, "bot")
	// Requests the server has read when it stops are stored and answered;
	// none is answered without being stored.
	for i := range 50 {
		ann.send(msg{"type": "SingleMessageRequest", "recipient": "bot", "content": fmt.Sprint(i)})
	}
	ann.expect("SingleMessageResponse", 200)
	ts.stop()
	frames, code := ann.readUntilClose()
	if code != websocket.CloseGoingAway {
		t.Fatalf("ann: close code %d, want 1001", code)
	}
	acks := 1
	for _, m := range frames {
		if m["type"] == "SingleMessageResponse" && m["status"] == float64(200) {
			acks++
		}
	}
	if stored := len(dumpMessages(t, l)); acks != stored {
		t.Fatalf("%d acks, %d messages stored", acks, stored)
	}
	// bot may leave before the last messages: it gets no more than were
	// stored, and a close frame.
	if delivered, code := bot.readUntilClose(); len(delivered) > acks || code != websocket.CloseGoingAway {
		t.Fatalf("bot got %d deliveries and close %d, want at most %d and 1001", len(delivered), code, acks)
	}
}

// failingLog is a real log whose Append can be made to fail.
type failingLog struct {
	*eventlog.Log
	fail atomic.Bool
}

var errInjected = errors.New("injected append failure")

func (f *failingLog) Append(data ...[]byte) ([]ulid.ULID, error) {
	if f.fail.Load() {
		return nil, errInjected
	}
	return f.Log.Append(data...)
}

func TestServer_AppendFails(t *testing.T) {
	l, _ := mustOpenLog(t)
	fl := &failingLog{Log: l}
	ts := startServer(t, fl)
	ann := register(t, ts, "ann")
	bob := register(t, ts, "bob")
	ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"bob"}, "content": "ok"})
	ann.expect("GroupMessageInitResponse", 200)
	bob.expect("GroupMessageRecv", 201)

	fl.fail.Store(true)
	for _, req := range []msg{
		{"type": "GroupMessageRequest", "chatname": "c", "content": "lost", "messageID": 1},
		{"type": "GroupMessageInitRequest", "chatname": "d", "recipients": []string{"bob"}, "content": "lost"},
		{"type": "SingleMessageRequest", "recipient": "bob", "content": "lost"},
		{"type": "RandomMessageRequest", "content": "lost"},
	} {
		got := ann.roundTrip(req)
		if got["type"] != "ErrorResponse" || got["status"] != float64(500) || got["request"] != req["type"] {
			t.Fatalf("%v: got %v, want 500", req, got)
		}
	}
	c := dial(t, ts)
	c.send(msg{"type": "RegisterRequest", "username": "carl"})
	c.expect("ErrorResponse", 500)
	bob.expectNothingQueued()

	fl.fail.Store(false)
	// The failed chat and user do not exist; the server keeps serving.
	ann.send(msg{"type": "GroupMessageRequest", "chatname": "d", "content": "x"})
	ann.expect("ErrorResponse", 404)
	c.send(msg{"type": "RegisterRequest", "username": "carl"})
	c.expect("RegisterResponse", 200)
	ann.send(msg{"type": "GroupMessageRequest", "chatname": "c", "content": "kept"})
	ann.expect("GroupMessageResponse", 200)
	if got := bob.expect("GroupMessageRecv", 200); got["content"] != "kept" {
		t.Fatalf("recv %v", got)
	}
	stored := dumpMessages(t, l)
	for _, content := range stored {
		if content == "lost" {
			t.Fatalf("a failed message was stored: %v", stored)
		}
	}
	rebuilt, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	u1, c1, e1 := rebuilt.Counts()
	var u2, c2, e2 int
	ts.core.View(func(st *projection.State) { u2, c2, e2 = st.Counts() })
	if u1 != u2 || c1 != c2 || e1 != e2 {
		t.Fatalf("projection (%d users, %d chats, %d events) differs from the log (%d, %d, %d)", u2, c2, e2, u1, c1, e1)
	}
}

// TestServer_Pipelining sends 3,000 requests without waiting for answers:
// the client is not dropped as slow (its own answers must not overflow its
// queue), the answers come in request order, and each ack's id stores its
// content.
func TestServer_Pipelining(t *testing.T) {
	const n = 3000
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	ann := register(t, ts, "ann")
	register(t, ts, "bob")
	ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"bob"}, "content": "s"})
	ann.expect("GroupMessageInitResponse", 200)
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := ann.ws.WriteJSON(msg{"type": "GroupMessageRequest", "chatname": "c", "content": fmt.Sprint(i), "messageID": i}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	acks := make(map[string]string)
	for i := range n {
		m := ann.expect("GroupMessageResponse", 200)
		if m["messageID"] != float64(i) {
			t.Fatalf("answer %d is for messageID %v", i, m["messageID"])
		}
		acks[m["id"].(string)] = fmt.Sprint(i)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	stored := dumpMessages(t, l)
	for id, content := range acks {
		if stored[id] != content {
			t.Fatalf("ack %s for %q, log has %q", id, content, stored[id])
		}
	}
}
