package chat_test

import (
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// TestCore_Rules drives each rule without a socket: ann and bob share
// chat "team", carl is in no chat.
func TestCore_Rules(t *testing.T) {
	tc := startCore(t)
	carl := tc.register("carl")
	ann := tc.register("ann")
	bob := tc.register("bob")
	ann.expect(t, &chat.Request{Kind: chat.TypeGroupMessageInit, Chatname: "team", Recipients: []string{"bob"}, Content: "hi"},
		chat.FrameGroupMessageInit, chat.StatusOK)
	bob.next(t) // the chat's first message
	tests := []struct {
		name   string
		from   *session
		req    chat.Request
		typ    string
		status int
	}{
		{"register twice", ann, chat.Request{Kind: chat.TypeRegister, Username: "ann2"}, chat.FrameError, chat.StatusConflict},
		{"name online elsewhere", tc.open(), chat.Request{Kind: chat.TypeRegister, Username: "ann"}, chat.FrameError, chat.StatusConflict},
		{"not registered", tc.open(), chat.Request{Kind: chat.TypeClientList}, chat.FrameError, chat.StatusNotRegistered},
		{"bad username", tc.open(), chat.Request{Kind: chat.TypeRegister, Username: "a b"}, chat.FrameError, chat.StatusBadRequest},
		{"decoding error", ann, chat.Request{Kind: chat.TypeClientList, Err: chat.Reasonf(chat.ErrBadRequest, "bad")}, chat.FrameError, chat.StatusBadRequest},
		{"chat exists", ann, chat.Request{Content: "x", Kind: chat.TypeGroupMessageInit, Chatname: "team", Recipients: []string{"bob"}}, chat.FrameError, chat.StatusConflict},
		{"unknown recipient", ann, chat.Request{Content: "x", Kind: chat.TypeGroupMessageInit, Chatname: "new", Recipients: []string{"zed"}}, chat.FrameError, chat.StatusNotFound},
		{"too many recipients", ann, chat.Request{Content: "x", Kind: chat.TypeGroupMessageInit, Chatname: "new", Recipients: make([]string, chat.MaxRecipients+1)}, chat.FrameError, chat.StatusBadRequest},
		{"bad chat name", ann, chat.Request{Content: "x", Kind: chat.TypeGroupMessageInit, Chatname: "a\nb", Recipients: []string{"bob"}}, chat.FrameError, chat.StatusBadRequest},
		{"no such chat", ann, chat.Request{Content: "x", Kind: chat.TypeGroupMessage, Chatname: "none"}, chat.FrameError, chat.StatusNotFound},
		{"not a member", carl, chat.Request{Content: "x", Kind: chat.TypeGroupMessage, Chatname: "team"}, chat.FrameError, chat.StatusForbidden},
		{"history, not a member", carl, chat.Request{Kind: chat.TypeHistory, Chatname: "team", Limit: 10}, chat.FrameError, chat.StatusForbidden},
		{"to yourself", ann, chat.Request{Content: "x", Kind: chat.TypeSingleMessage, Recipient: "ann"}, chat.FrameError, chat.StatusBadRequest},
		{"to nobody", ann, chat.Request{Content: "x", Kind: chat.TypeSingleMessage, Recipient: "zed"}, chat.FrameError, chat.StatusNotFound},
		{"member's history", bob, chat.Request{Kind: chat.TypeHistory, Chatname: "team", Limit: 10}, chat.FrameHistory, chat.StatusOK},
		{"empty content", ann, chat.Request{Kind: chat.TypeGroupMessage, Chatname: "team", Content: " \n\t"}, chat.FrameError, chat.StatusBadRequest},
		{"post", ann, chat.Request{Kind: chat.TypeGroupMessage, Chatname: "team", Content: "x"}, chat.FrameGroupMessage, chat.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.from.expect(t, &tt.req, tt.typ, tt.status)
		})
	}
	if f := bob.next(t); f.Type != chat.FrameGroupMessageRecv || f.Content != "x" {
		t.Fatalf("bob got %+v", f)
	}
	bob.nothingQueued(t)
}

// TestCore_Retry: a message request repeated with its messageID gets the
// original answer, from the same batch or a later one, and stores nothing.
func TestCore_Retry(t *testing.T) {
	tc := startCore(t)
	ann := tc.register("ann")
	bob := tc.register("bob")
	req := func() *chat.Request {
		return &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "once", MessageID: json.RawMessage(`"m1"`)}
	}
	// Twice at once, so that the second may meet the first in its batch.
	ann.Submit(req())
	ann.Submit(req())
	first, second := ann.next(t), ann.next(t)
	third := ann.expect(t, req(), chat.FrameSingleMessage, chat.StatusOK)
	if first.ID.IsZero() || second.ID != first.ID || third.ID != first.ID {
		t.Fatalf("ids %q, %q, %q: want the same", first.ID, second.ID, third.ID)
	}
	if f := bob.next(t); f.ID != first.ID {
		t.Fatalf("bob got %+v", f)
	}
	bob.nothingQueued(t)
	if n := countEvents(t, tc.log, "DirectMessageSent"); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// TestCore_ReadYourWrites: a read submitted right behind a write of the
// same session sees it, however the requests are batched.
func TestCore_ReadYourWrites(t *testing.T) {
	tc := startCore(t)
	ann := tc.register("ann")
	tc.register("bob")
	for i := range 50 {
		ann.Submit(&chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "x"})
		ann.Submit(&chat.Request{Kind: chat.TypeHistory, Recipient: "bob", Limit: 1})
		ack, page := ann.next(t), ann.next(t)
		if len(page.Messages) != 1 || page.Messages[0].ID != ack.ID {
			t.Fatalf("round %d: history %+v without the message %s", i, page.Messages, ack.ID)
		}
	}
}

// TestCore_SessionTakeover: a protected name signing in again replaces its
// session; an unprotected one online elsewhere is refused.
func TestCore_SessionTakeover(t *testing.T) {
	tc := startCore(t)
	old := tc.open()
	old.expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann", Password: "correct horse"}, chat.FrameRegister, chat.StatusOK)
	wrong := tc.open()
	wrong.expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann", Password: "wrong horse"}, chat.FrameError, chat.StatusUnauthorized)
	taker := tc.open()
	taker.expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann", Password: "correct horse"}, chat.FrameRegister, chat.StatusOK)
	if f := old.next(t); f.Type != chat.FrameSessionReplaced {
		t.Fatalf("old session got %+v", f)
	}
	select {
	case why := <-old.peer.closed:
		if why != chat.CloseReplaced {
			t.Fatalf("old session closed for %v", why)
		}
	case <-time.After(waitFor):
		t.Fatal("old session not closed")
	}
	if f := taker.expect(t, &chat.Request{Kind: chat.TypeClientList}, chat.FrameClientList, chat.StatusOK); !slices.Equal(f.Clients, []string{"ann"}) {
		t.Fatalf("online %v", f.Clients)
	}
}

// TestCore_TooSlow: a peer that cannot take its frames is taken offline.
func TestCore_TooSlow(t *testing.T) {
	tc := startCore(t)
	ann := tc.register("ann")
	bob := tc.register("bob")
	bob.peer.refuse = true
	ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "x"}, chat.FrameSingleMessage, chat.StatusOK)
	if f := ann.expect(t, &chat.Request{Kind: chat.TypeClientList}, chat.FrameClientList, chat.StatusOK); !slices.Equal(f.Clients, []string{"ann"}) {
		t.Fatalf("online %v, want bob dropped", f.Clients)
	}
}

// TestCore_AppendFails: when the log refuses a batch, every request in it
// gets 500, nothing is delivered, and the state is untouched.
func TestCore_AppendFails(t *testing.T) {
	var fail atomic.Bool
	tc := startCore(t, func(c *chat.Core) { c.Log = &failingLog{Log: c.Log, fail: &fail} })
	ann := tc.register("ann")
	bob := tc.register("bob")
	fail.Store(true)
	ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "lost"}, chat.FrameError, chat.StatusInternal)
	ann.expect(t, &chat.Request{Kind: chat.TypeGroupMessageInit, Chatname: "c", Recipients: []string{"bob"}, Content: "lost"}, chat.FrameError, chat.StatusInternal)
	bob.nothingQueued(t)
	fail.Store(false)
	ann.expect(t, &chat.Request{Kind: chat.TypeGroupMessage, Chatname: "c", Content: "x"}, chat.FrameError, chat.StatusNotFound)
}

// failingLog is a real log whose appends fail while fail is set.
type failingLog struct {
	chat.Log
	fail *atomic.Bool
}

func (l *failingLog) Append(data ...[]byte) ([]ulid.ULID, error) {
	if l.fail.Load() {
		return nil, errors.New("disk on fire")
	}
	return l.Log.Append(data...)
}

// TestCore_Replay: a session registering with since gets what it missed,
// marked as replayed, then ReplayComplete, then live messages.
func TestCore_Replay(t *testing.T) {
	tc := startCore(t)
	ann := tc.register("ann")
	bob := tc.register("bob")
	since := bob.nothingQueuedID(t, ann)
	bob.End()
	<-bob.peer.closed
	for _, content := range []string{"one", "two"} {
		ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: content}, chat.FrameSingleMessage, chat.StatusOK)
	}
	back := tc.open()
	back.expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "bob", Since: since, HasSince: true}, chat.FrameRegister, chat.StatusOK)
	for _, want := range []string{"one", "two"} {
		if f := back.next(t); !f.Replay || f.Content != want {
			t.Fatalf("replayed %+v, want %q", f, want)
		}
	}
	if f := back.next(t); f.Type != chat.FrameReplayComplete || f.Count != 2 {
		t.Fatalf("got %+v, want ReplayComplete of 2", f)
	}
}

// nothingQueuedID sends s's user a message from other and returns its id:
// a point in the log before what follows.
func (s *session) nothingQueuedID(t *testing.T, other *session) ulid.ULID {
	t.Helper()
	ack := other.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "before"}, chat.FrameSingleMessage, chat.StatusOK)
	s.next(t)
	return ack.ID
}

// countEvents counts the stored events of a type.
func countEvents(t *testing.T, l *eventlog.Log, typ string) int {
	t.Helper()
	n := 0
	err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		e, err := projection.Decode(rec.ID, rec.Data)
		if err == nil && e.Payload.Type() == typ {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
