package chat_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// post sends a group message from s and returns its id.
func (s *session) post(t *testing.T, chatname, content string) ulid.ULID {
	t.Helper()
	return s.expect(t, &chat.Request{Kind: chat.TypeGroupMessage, Chatname: chatname, Content: content}, chat.FrameGroupMessage, chat.StatusOK).ID
}

// TestCore_Members: an invited user gets the chat, posts, reads its history
// and is told of changes; one who left gets 403 and no more deliveries.
func TestCore_Members(t *testing.T) {
	tc := startCore(t)
	ann, bob, cid := tc.register("ann"), tc.register("bob"), tc.register("cid")
	ann.expect(t, &chat.Request{Kind: chat.TypeGroupMessageInit, Chatname: "c", Recipients: []string{"bob"}, Content: "hi"}, chat.FrameGroupMessageInit, chat.StatusOK)
	bob.next(t) // the 201
	cid.expect(t, &chat.Request{Kind: chat.TypeChatInvite, Chatname: "c", Usernames: []string{"cid"}}, chat.FrameError, chat.StatusForbidden)
	ann.expect(t, &chat.Request{Kind: chat.TypeChatInvite, Chatname: "c", Usernames: []string{"nobody"}}, chat.FrameError, chat.StatusNotFound)
	f := ann.expect(t, &chat.Request{Kind: chat.TypeChatInvite, Chatname: "c", Usernames: []string{"cid", "bob"}}, chat.FrameChatInvite, chat.StatusOK)
	if want := []string{"ann", "bob", "cid"}; !slices.Equal(f.Members, want) {
		t.Fatalf("members %v, want %v", f.Members, want)
	}
	for _, s := range []*session{bob, cid} {
		if g := s.next(t); g.Type != chat.FrameMembersChanged || !slices.Equal(g.Added, []string{"cid"}) || g.By != "ann" {
			t.Fatalf("got %+v, want ChatMembersChanged adding cid by ann", g)
		}
	}
	cid.post(t, "c", "hello")
	for _, s := range []*session{ann, bob} {
		if g := s.next(t); g.Content != "hello" {
			t.Fatalf("got %+v, want cid's message", g)
		}
	}
	bob.expect(t, &chat.Request{Kind: chat.TypeChatLeave, Chatname: "c"}, chat.FrameChatLeave, chat.StatusOK)
	for _, s := range []*session{ann, cid} {
		if g := s.next(t); g.Type != chat.FrameMembersChanged || !slices.Equal(g.Removed, []string{"bob"}) || slices.Contains(g.Members, "bob") {
			t.Fatalf("got %+v, want ChatMembersChanged removing bob", g)
		}
	}
	bob.expect(t, &chat.Request{Kind: chat.TypeGroupMessage, Chatname: "c", Content: "x"}, chat.FrameError, chat.StatusForbidden)
	bob.expect(t, &chat.Request{Kind: chat.TypeHistory, Chatname: "c", Limit: 10}, chat.FrameError, chat.StatusForbidden)
	ann.post(t, "c", "bye bob")
	cid.next(t)
	bob.nothingQueued(t)
}

// TestCore_EditDelete: an edit reaches the other side and history; a
// deletion erases the content in the log, the edits' too.
func TestCore_EditDelete(t *testing.T) {
	tc := startCore(t)
	ann, bob := tc.register("ann"), tc.register("bob")
	id := ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "secret one"}, chat.FrameSingleMessage, chat.StatusOK).ID
	bob.next(t)
	bob.expect(t, &chat.Request{Kind: chat.TypeEditMessage, ID: id, Content: "mine now"}, chat.FrameError, chat.StatusForbidden)
	f := ann.expect(t, &chat.Request{Kind: chat.TypeEditMessage, ID: id, Content: "secret two"}, chat.FrameEditMessage, chat.StatusOK)
	if f.ID != id || f.Changed.IsZero() {
		t.Fatalf("edit answered %+v", f)
	}
	if g := bob.next(t); g.Type != chat.FrameMessageEdited || g.ID != id || g.Content != "secret two" || g.Sender != "ann" || g.Recipient != "bob" {
		t.Fatalf("bob got %+v, want the edit", g)
	}
	h := bob.expect(t, &chat.Request{Kind: chat.TypeHistory, Recipient: "ann", Limit: 10}, chat.FrameHistory, chat.StatusOK)
	if m := h.Messages[0]; m.Content != "secret two" || !m.Edited {
		t.Fatalf("history %+v, want the edited content", m)
	}
	ann.expect(t, &chat.Request{Kind: chat.TypeDeleteMessage, ID: id}, chat.FrameDeleteMessage, chat.StatusOK)
	if g := bob.next(t); g.Type != chat.FrameMessageDeleted || g.ID != id {
		t.Fatalf("bob got %+v, want the deletion", g)
	}
	ann.expect(t, &chat.Request{Kind: chat.TypeDeleteMessage, ID: id}, chat.FrameError, chat.StatusNotFound)
	ann.expect(t, &chat.Request{Kind: chat.TypeEditMessage, ID: id, Content: "again"}, chat.FrameError, chat.StatusNotFound)
	h = bob.expect(t, &chat.Request{Kind: chat.TypeHistory, Recipient: "ann", Limit: 10}, chat.FrameHistory, chat.StatusOK)
	if m := h.Messages[0]; m.Content != "" || !m.Deleted {
		t.Fatalf("history %+v, want a deleted message", m)
	}
	err := tc.log.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		if bytes.Contains(rec.Data, []byte("secret")) {
			t.Errorf("record %s still holds the deleted content: %q", rec.ID, rec.Data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCore_MarkRead: unread counts others' messages after the marker,
// which only moves forward.
func TestCore_MarkRead(t *testing.T) {
	tc := startCore(t)
	ann, bob := tc.register("ann"), tc.register("bob")
	ann.expect(t, &chat.Request{Kind: chat.TypeGroupMessageInit, Chatname: "c", Recipients: []string{"bob"}, Content: "1"}, chat.FrameGroupMessageInit, chat.StatusOK)
	first := bob.next(t).ID
	ann.post(t, "c", "2")
	bob.next(t)
	bob.post(t, "c", "mine")
	ann.next(t)
	unread := func() int {
		return bob.expect(t, &chat.Request{Kind: chat.TypeChatList}, chat.FrameChatList, chat.StatusOK).Chats[0].Unread
	}
	if n := unread(); n != 2 {
		t.Fatalf("unread %d, want 2", n)
	}
	mark := func(id ulid.ULID) chat.Frame {
		return bob.expect(t, &chat.Request{Kind: chat.TypeMarkRead, Chatname: "c", ID: id}, chat.FrameMarkRead, chat.StatusOK)
	}
	mark(first)
	if n := unread(); n != 1 {
		t.Fatalf("unread %d after reading the first, want 1", n)
	}
	last := ann.post(t, "c", "3")
	bob.next(t)
	mark(last)
	if f := mark(first); f.ID != last {
		t.Fatalf("an older id moved the marker to %s, want it at %s", f.ID, last)
	}
	if n := unread(); n != 0 {
		t.Fatalf("unread %d, want 0", n)
	}
	bob.expect(t, &chat.Request{Kind: chat.TypeMarkRead, Chatname: "c", ID: ulid.Make()}, chat.FrameError, chat.StatusNotFound)
	bob.expect(t, &chat.Request{Kind: chat.TypeMarkRead, Recipient: "ann", ID: first}, chat.FrameError, chat.StatusNotFound)
}

// TestCore_Typing: forwarded to the other side at most once per 2 s, never
// answered.
func TestCore_Typing(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	tc := startCore(t, func(c *chat.Core) { c.Now = func() time.Time { return now } })
	ann, bob := tc.register("ann"), tc.register("bob")
	ann.Submit(&chat.Request{Kind: chat.TypeTyping, Recipient: "bob", Received: time.Now()})
	ann.Submit(&chat.Request{Kind: chat.TypeTyping, Recipient: "bob", Received: time.Now()})
	ann.nothingQueued(t)
	if f := bob.next(t); f.Type != chat.FrameTyping || f.Username != "ann" || f.Sender != "ann" {
		t.Fatalf("bob got %+v, want ann typing", f)
	}
	bob.nothingQueued(t)
	ann.expect(t, &chat.Request{Kind: chat.TypeTyping, Recipient: "nobody"}, chat.FrameError, chat.StatusNotFound)
	ann.expect(t, &chat.Request{Kind: chat.TypeTyping, Chatname: "none"}, chat.FrameError, chat.StatusNotFound)
}

// TestCore_ChangePassword: the old password is checked, and the new one
// protects the name from then on.
func TestCore_ChangePassword(t *testing.T) {
	tc := startCore(t)
	ann := tc.register("ann")
	ann.expect(t, &chat.Request{Kind: chat.TypeChangePassword, NewPassword: "first pass"}, chat.FrameChangePassword, chat.StatusOK)
	ann.expect(t, &chat.Request{Kind: chat.TypeChangePassword, OldPassword: "wrong pass", NewPassword: "second pass"}, chat.FrameError, chat.StatusUnauthorized)
	ann.expect(t, &chat.Request{Kind: chat.TypeChangePassword, OldPassword: "first pass", NewPassword: "second pass",
		MessageID: json.RawMessage(`"pw"`)}, chat.FrameChangePassword, chat.StatusOK)
	// A retry gets the original answer, though "first pass" is no longer right.
	ann.expect(t, &chat.Request{Kind: chat.TypeChangePassword, OldPassword: "first pass", NewPassword: "second pass",
		MessageID: json.RawMessage(`"pw"`)}, chat.FrameChangePassword, chat.StatusOK)
	ann.End()
	<-ann.peer.closed
	tc.open().expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann"}, chat.FrameError, chat.StatusUnauthorized)
	tc.open().expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann", Password: "first pass"}, chat.FrameError, chat.StatusUnauthorized)
	tc.open().expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann", Password: "second pass"}, chat.FrameRegister, chat.StatusOK)
}

// TestCore_Presence: those who share a conversation with a user are told
// when the user comes and goes; others and the user are not.
func TestCore_Presence(t *testing.T) {
	tc := startCore(t)
	ann, bob, cid := tc.register("ann"), tc.register("bob"), tc.register("cid")
	ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "hi"}, chat.FrameSingleMessage, chat.StatusOK)
	bob.next(t)
	bob.End()
	<-bob.peer.closed
	back := tc.register("bob")
	for _, want := range []bool{false, true} {
		select {
		case f := <-ann.peer.presence:
			if f.Username != "bob" || f.Online != want {
				t.Fatalf("ann got %+v, want bob online=%v", f, want)
			}
		case <-time.After(waitFor):
			t.Fatal("ann was not told")
		}
	}
	back.nothingQueued(t)
	cid.nothingQueued(t)
	for _, s := range []*session{cid, back} {
		select {
		case f := <-s.peer.presence:
			t.Fatalf("%+v sent to a user who shares nothing with bob, or to bob", f)
		default:
		}
	}
}
