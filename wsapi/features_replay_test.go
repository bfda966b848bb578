package wsapi_test

import (
	"fmt"
	"testing"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
)

// TestFeatures_Replay: a RegisterRequest with since replays, besides the
// messages, the changes of members of the user's chats, the others' edits
// and deletions in the user's conversations, and the user's own read
// markers, in log order, marked as replays, then ReplayComplete counting
// them all. A message deleted since is not replayed itself, nor its edits
// (their content is erased with it), nor what is the user's own or of
// chats they are not in.
func TestFeatures_Replay(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, carl, dora := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "dora")
		bob.createChat("c", "first", ann)
		other := bob.createChat("other", "not ann's", dora)
		d0, dx := bob.dm(ann, "ann", "d0"), bob.dm(ann, "ann", "dx")
		since := bob.postTo("c", "b0", ann)
		ann.ws.Close()

		var want []msg // the replay, in order
		b1 := bob.postTo("c", "b1")
		want = append(want, msg{"type": "GroupMessageRecv", "id": b1, "chatname": "c", "sender": "bob", "content": "b1"})
		b2 := bob.postTo("c", "b2")
		// Deleted later: neither b2 nor its edit (whose content is erased too)
		// is replayed, only the deletion.
		bob.ok(msg{"type": "EditMessageRequest", "id": b2, "content": "b2, edited"}, "EditMessageResponse")
		e := bob.ok(msg{"type": "EditMessageRequest", "id": since, "content": "b0, edited"}, "EditMessageResponse")
		want = append(want, msg{"type": "MessageEdited", "id": since, "content": "b0, edited", "edited_id": e["edited_id"], "time": e["time"], "sender": "bob", "chatname": "c"})
		d := bob.ok(msg{"type": "DeleteMessageRequest", "id": b2}, "DeleteMessageResponse")
		want = append(want, msg{"type": "MessageDeleted", "id": b2, "deleted_id": d["deleted_id"], "sender": "bob", "chatname": "c"})
		bob.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"carl"}}, "ChatInviteResponse")
		carl.want("ChatMembersChanged", 200)
		want = append(want, msg{"type": "ChatMembersChanged", "chatname": "c", "members": []string{"ann", "bob", "carl"}, "added": []string{"carl"}, "by": "bob"})
		// Not ann's chat: not replayed.
		bob.ok(msg{"type": "EditMessageRequest", "id": other, "content": "edited"}, "EditMessageResponse")
		dora.want("MessageEdited", 200)
		bob.ok(msg{"type": "ChatInviteRequest", "chatname": "other", "usernames": []string{"carl"}}, "ChatInviteResponse")
		dora.want("ChatMembersChanged", 200)
		carl.want("ChatMembersChanged", 200)

		// ann, online for a moment: a marker moved (replayed), one not
		// moved, and a message and an edit of her own (not replayed).
		ann = signUpAgain(t, ts, "ann")
		ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": b1}, "MarkReadResponse")
		want = append(want, msg{"type": "ReadMarker", "chatname": "c", "id": b1})
		ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": since}, "MarkReadResponse")
		a1 := ann.postTo("c", "a1", bob, carl)
		ann.ok(msg{"type": "EditMessageRequest", "id": a1, "content": "a1, edited"}, "EditMessageResponse")
		bob.want("MessageEdited", 200)
		carl.want("MessageEdited", 200)
		ann.ws.Close()

		d1 := bob.dm(nil, "ann", "d1")
		want = append(want, msg{"type": "SingleMessageRecv", "id": d1, "sender": "bob", "content": "d1"})
		e = bob.ok(msg{"type": "EditMessageRequest", "id": d0, "content": "d0, edited"}, "EditMessageResponse")
		want = append(want, msg{"type": "MessageEdited", "id": d0, "content": "d0, edited", "edited_id": e["edited_id"], "sender": "bob", "recipient": "ann"})
		ann = signUpAgain(t, ts, "ann")
		ann.ok(msg{"type": "MarkReadRequest", "recipient": "bob", "id": d1}, "MarkReadResponse")
		want = append(want, msg{"type": "ReadMarker", "recipient": "bob", "id": d1})
		ann.ws.Close()
		carl.ok(msg{"type": "ChatLeaveRequest", "chatname": "c"}, "ChatLeaveResponse")
		bob.want("ChatMembersChanged", 200)
		want = append(want, msg{"type": "ChatMembersChanged", "chatname": "c", "members": []string{"ann", "bob"}, "removed": []string{"carl"}, "by": "carl"})
		d = bob.ok(msg{"type": "DeleteMessageRequest", "id": dx}, "DeleteMessageResponse")
		want = append(want, msg{"type": "MessageDeleted", "id": dx, "deleted_id": d["deleted_id"], "sender": "bob", "recipient": "ann"})

		ann = asUser(deadlineRegisterSince(t, ts, "ann", since), "ann")
		for i, w := range want {
			w["replay"], w["status"], w["messageID"] = true, 200, absent
			m := ann.next()
			if !match(t, fmt.Sprintf("replayed frame %d", i), m, w) && (m["type"] != w["type"] || w["id"] != nil && m["id"] != w["id"]) {
				t.Fatalf("replay out of step at frame %d", i)
			}
		}
		done := ann.want("ReplayComplete", 200)
		if done["count"] != float64(len(want)) {
			t.Errorf("ReplayComplete %v, want count %d", done, len(want))
		}
		ann.idle()
	})
}

// TestFeatures_Retry: each new state-changing request retried with its
// messageID gets the original answer, stores nothing and pushes nothing,
// on its connection or, after sign-in elsewhere, on another.
func TestFeatures_Retry(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l, cheapPasswords)
		ann, bob, carl := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl")
		ann.createChat("c", "first", bob)
		b1 := bob.postTo("c", "b1", ann)
		a1, a2 := ann.postTo("c", "a1", bob), ann.postTo("c", "a2", bob)

		steps := []struct {
			u      *user
			req    msg
			answer string
			pushed []*user
			push   string
		}{
			{ann, msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"carl"}}, "ChatInviteResponse", []*user{bob, carl}, "ChatMembersChanged"},
			{ann, msg{"type": "EditMessageRequest", "id": a1, "content": "a1, edited"}, "EditMessageResponse", []*user{bob, carl}, "MessageEdited"},
			{ann, msg{"type": "DeleteMessageRequest", "id": a2}, "DeleteMessageResponse", []*user{bob, carl}, "MessageDeleted"},
			{ann, msg{"type": "MarkReadRequest", "chatname": "c", "id": b1}, "MarkReadResponse", nil, ""},
			{carl, msg{"type": "ChatLeaveRequest", "chatname": "c"}, "ChatLeaveResponse", []*user{ann, bob}, "ChatMembersChanged"},
			{ann, msg{"type": "ChangePasswordRequest", "new": "ann's password"}, "ChangePasswordResponse", nil, ""},
		}
		firsts := make([]msg, len(steps))
		for i, s := range steps {
			s.req["messageID"] = fmt.Sprint("retry-", i)
			firsts[i] = s.u.ok(s.req, s.answer)
			for _, p := range s.pushed {
				p.want(s.push, 200)
			}
			n := countRecords(t, l)
			if again := s.u.ask(s.req); jsonOf(again) != jsonOf(firsts[i]) {
				t.Errorf("%s retried: %v, first %v", s.req["type"], again, firsts[i])
			}
			if stored := countRecords(t, l) - n; stored != 0 {
				t.Errorf("%s retried: %d records stored", s.req["type"], stored)
			}
			for _, u := range []*user{ann, bob, carl} {
				u.idle()
			}
		}

		// Twice back to back: both may fall in one batch.
		edit := msg{"type": "EditMessageRequest", "id": a1, "content": "twice?", "messageID": "twice"}
		ann.send(edit)
		ann.send(edit)
		e1, e2 := ann.want("EditMessageResponse", 200), ann.want("EditMessageResponse", 200)
		if e1["edited_id"] != e2["edited_id"] {
			t.Errorf("two edits for one messageID: %v %v", e1, e2)
		}
		bob.want("MessageEdited", 200)
		bob.idle()

		// From a new session of ann's, the retries get the first answers.
		again := signUpWith(t, ts, "ann", "ann's password")
		for i, s := range steps {
			if s.u == ann {
				if m := again.ask(s.req); jsonOf(m) != jsonOf(firsts[i]) {
					t.Errorf("%s retried from a new session: %v, first %v", s.req["type"], m, firsts[i])
				}
			}
		}
		bob.idle()
	})
}

// restartables are the backends with a way to open the same data again,
// as a restarted server does: reopen closes old and returns the new log.
var restartables = []struct {
	name string
	open func(t *testing.T) (l chat.Log, reopen func(old chat.Log) chat.Log)
}{
	{"bbolt", func(t *testing.T) (chat.Log, func(chat.Log) chat.Log) {
		l, path := mustOpenLog(t)
		return l, func(old chat.Log) chat.Log {
			if err := old.(*eventlog.Log).Close(); err != nil {
				t.Fatal(err)
			}
			return mustReopenLog(t, path)
		}
	}},
	{"jetstream", func(t *testing.T) (chat.Log, func(chat.Log) chat.Log) {
		srv := natstest.Start(t)
		return mustOpenNode(t, srv.URL(), 1), func(old chat.Log) chat.Log {
			n := old.(*node)
			_ = n.presence.Close()
			_ = n.Log.Close()
			n.nc.Close()
			return mustOpenNode(t, srv.URL(), 1)
		}
	}},
}

// TestFeatures_Restart: read markers, unread counts, members, edits,
// deletions and a changed password survive a restart on the same data.
func TestFeatures_Restart(t *testing.T) {
	for _, b := range restartables {
		t.Run(b.name, func(t *testing.T) {
			l, reopen := b.open(t)
			ts := startServer(t, l, cheapPasswords)
			ann, bob, carl, dora := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "dora")
			first := bob.createChat("c", "first", ann)
			b1, b2, b3 := bob.postTo("c", "b1", ann), bob.postTo("c", "b2", ann), bob.postTo("c", "b3", ann)
			ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": b1}, "MarkReadResponse")
			bob.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"carl", "dora"}}, "ChatInviteResponse")
			wantMembersChanged(t, msg{"added": []string{"carl", "dora"}}, ann, carl, dora)
			dora.ok(msg{"type": "ChatLeaveRequest", "chatname": "c"}, "ChatLeaveResponse")
			wantMembersChanged(t, msg{"removed": []string{"dora"}}, ann, bob, carl)
			bob.ok(msg{"type": "EditMessageRequest", "id": b2, "content": "b2, edited"}, "EditMessageResponse")
			ann.want("MessageEdited", 200)
			carl.want("MessageEdited", 200)
			bob.ok(msg{"type": "DeleteMessageRequest", "id": b3}, "DeleteMessageResponse")
			ann.want("MessageDeleted", 200)
			carl.want("MessageDeleted", 200)
			d1 := bob.dm(ann, "ann", "d1")
			bob.dm(ann, "ann", "d2")
			ann.ok(msg{"type": "MarkReadRequest", "recipient": "bob", "id": d1}, "MarkReadResponse")
			ann.ok(msg{"type": "ChangePasswordRequest", "new": "ann's password"}, "ChangePasswordResponse")
			before := restartViews(ann, carl, dora)
			match(t, "ann's entry before", ann.chatEntry("c"), msg{"members": []string{"ann", "bob", "carl"}, "unread": 1})

			ts.stop()
			l = reopen(l)
			ts = startServer(t, l, cheapPasswords)
			if m := dial(t, ts).roundTrip(msg{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(401) {
				t.Errorf("ann without her password after the restart: %v, want 401", m)
			}
			ann = signUpWith(t, ts, "ann", "ann's password")
			bob, carl, dora = signUpAgain(t, ts, "bob"), signUpAgain(t, ts, "carl"), signUpAgain(t, ts, "dora")
			after := restartViews(ann, carl, dora)
			for i := range before {
				if after[i] != before[i] {
					t.Errorf("after the restart:\n%s\nbefore:\n%s", after[i], before[i])
				}
			}
			match(t, "ann's marker", ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": first}, "MarkReadResponse"), msg{"id": b1})
			bob.refused("edit a deleted message", msg{"type": "EditMessageRequest", "id": b3, "content": "x"}, 404)
			dora.refused("post after leaving", msg{"type": "GroupMessageRequest", "chatname": "c", "content": "x"}, 403)
			carl.postTo("c", "after the restart", ann, bob)
		})
	}
}

// restartViews is what the users see of their chats, as JSON: chat lists
// and, for the first, the histories of "c" and of bob.
func restartViews(first *user, others ...*user) []string {
	strip := func(m msg) string { delete(m, "messageID"); return jsonOf(m) }
	views := []string{
		strip(first.ok(msg{"type": "HistoryRequest", "chatname": "c"}, "HistoryResponse")),
		strip(first.ok(msg{"type": "HistoryRequest", "recipient": "bob"}, "HistoryResponse")),
	}
	for _, u := range append([]*user{first}, others...) {
		views = append(views, u.name+": "+strip(u.chatList()))
	}
	return views
}
