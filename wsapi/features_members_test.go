package wsapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chateau/chateau/chat"
)

// names returns the users' names.
func names(us ...*user) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.name)
	}
	return out
}

// wantMembersChanged checks that each of us gets ChatMembersChanged with
// want's fields (and an id and time) and returns the last one.
func wantMembersChanged(t *testing.T, want msg, us ...*user) msg {
	t.Helper()
	want["id"], want["time"], want["messageID"] = present, present, absent
	var m msg
	for _, u := range us {
		m = u.want("ChatMembersChanged", 200)
		match(t, u.name+"'s ChatMembersChanged", m, want)
	}
	return m
}

// TestFeatures_Invite: old and new members but the inviter are told; new
// members read the whole history with nothing unread and post; names
// already members are ignored; every error row.
func TestFeatures_Invite(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, carl, dora, eve := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "dora"), signUp(t, ts, "eve")
		first := ann.createChat("c", "first", bob)
		b1 := bob.postTo("c", "b1", ann)

		all := []string{"ann", "bob", "carl", "dora"}
		m := ann.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"carl", "dora", "bob"}, "messageID": "i"}, "ChatInviteResponse")
		match(t, "invite", m, msg{"chatname": "c", "members": all})
		pushed := wantMembersChanged(t, msg{"chatname": "c", "members": all, "added": []string{"carl", "dora"}, "by": "ann", "removed": absent}, bob, carl, dora)
		ann.idle()
		eve.idle()
		if id, _ := pushed["id"].(string); id <= b1 {
			t.Errorf("the change's id %v is not after the last message %s", pushed["id"], b1)
		}

		// The new member reads everything, with nothing unread, and posts.
		if got := carl.history(msg{"chatname": "c"}); len(got) != 2 || got[0]["id"] != first || got[1]["id"] != b1 {
			t.Errorf("carl's history %v, want %s and %s", got, first, b1)
		}
		match(t, "carl's entry", carl.chatEntry("c"), msg{"chatname": "c", "members": all, "last_id": b1, "unread": 0})
		c1 := carl.postTo("c", "from carl", ann, bob, dora)
		match(t, "dora's entry", dora.chatEntry("c"), msg{"last_id": c1, "unread": 1})

		// All of them members already: 200, nothing stored, nobody told.
		before := countRecords(t, l)
		m = dora.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"bob", "dora"}}, "ChatInviteResponse")
		match(t, "invite of members", m, msg{"chatname": "c", "members": all})
		m = ann.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": repeat("bob", 256)}, "ChatInviteResponse")
		match(t, "256 names", m, msg{"chatname": "c", "members": all})
		if n := countRecords(t, l); n != before {
			t.Errorf("inviting members stored %d records", n-before)
		}
		for _, u := range []*user{ann, bob, carl, dora} {
			u.idle()
		}

		var tooMany []string
		for i := range 257 {
			tooMany = append(tooMany, fmt.Sprint("nobody", i))
		}
		refuseAll("ChatInviteRequest", []refusal{
			{"no usernames", ann, msg{"chatname": "c", "usernames": []string{}}, 400},
			{"missing usernames", ann, msg{"chatname": "c"}, 400},
			{"257 usernames", ann, msg{"chatname": "c", "usernames": tooMany}, 400},
			{"a bad name", ann, msg{"chatname": "c", "usernames": []string{"eve", "a b"}}, 400},
			{"usernames not an array", ann, msg{"chatname": "c", "usernames": "eve"}, 400},
			{"a name not a string", ann, msg{"chatname": "c", "usernames": []any{"eve", 5}}, 400},
			{"missing chatname", ann, msg{"usernames": []string{"eve"}}, 400},
			{"requester not a member", eve, msg{"chatname": "c", "usernames": []string{"eve"}}, 403},
			{"no such chat", ann, msg{"chatname": "nope", "usernames": []string{"eve"}}, 404},
		})
		r := ann.refused("an unknown user", msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"eve", "zed"}}, 404)
		if reason, _ := r["reason"].(string); !strings.Contains(reason, "zed") {
			t.Errorf("404 reason %q does not name zed", reason)
		}
		for _, u := range []*user{bob, carl, dora, eve} {
			u.idle()
		}
		if e := eve.chatEntry("c"); e != nil {
			t.Errorf("eve, never invited, lists %v", e)
		}
	})
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestFeatures_Leave: the remaining members are told; the leaver is out
// (403, no deliveries) until invited back; the chat and its name stay.
func TestFeatures_Leave(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, carl, eve := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "eve")
		first := ann.createChat("c", "first", bob, carl)
		mine := carl.postTo("c", "carl's", ann, bob)

		m := carl.ok(msg{"type": "ChatLeaveRequest", "chatname": "c", "messageID": "l"}, "ChatLeaveResponse")
		match(t, "leave", m, msg{"chatname": "c"})
		wantMembersChanged(t, msg{"chatname": "c", "members": names(ann, bob), "removed": []string{"carl"}, "by": "carl", "added": absent}, ann, bob)
		carl.idle()
		eve.idle()

		away := ann.postTo("c", "while carl is away", bob)
		carl.idle() // no more deliveries
		for _, tt := range []struct {
			name string
			req  msg
		}{
			{"post", msg{"type": "GroupMessageRequest", "chatname": "c", "content": "x"}},
			{"history", msg{"type": "HistoryRequest", "chatname": "c"}},
			{"mark read", msg{"type": "MarkReadRequest", "chatname": "c", "id": first}},
			{"typing", msg{"type": "TypingRequest", "chatname": "c"}},
			{"invite", msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"eve"}}},
			{"leave again", msg{"type": "ChatLeaveRequest", "chatname": "c"}},
			{"edit his own message", msg{"type": "EditMessageRequest", "id": mine, "content": "x"}},
		} {
			carl.refused("after leaving: "+tt.name, tt.req, 403)
		}
		if e := carl.chatEntry("c"); e != nil {
			t.Errorf("carl still lists %v", e)
		}
		ann.idle()
		bob.idle()

		// The chat and its name stay.
		ann.refused("the name stays taken", msg{"type": "GroupMessageInitRequest", "chatname": "c", "recipients": []string{"eve"}, "content": "x"}, 302)
		match(t, "ann's entry", ann.chatEntry("c"), msg{"members": names(ann, bob), "last_id": away})
		refuseAll("ChatLeaveRequest", []refusal{
			{"missing chatname", ann, msg{}, 400},
			{"chatname not a string", ann, msg{"chatname": 7}, 400},
			{"not a member", eve, msg{"chatname": "c"}, 403},
			{"no such chat", ann, msg{"chatname": "nope"}, 404},
		})

		// Invited back, carl reads what he missed and posts again.
		all := names(ann, bob, carl)
		match(t, "invite back", bob.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"carl"}}, "ChatInviteResponse"), msg{"members": all})
		wantMembersChanged(t, msg{"chatname": "c", "members": all, "added": []string{"carl"}, "by": "bob"}, ann, carl)
		bob.idle()
		if messageWithID(carl.history(msg{"chatname": "c"}), away) == nil {
			t.Errorf("carl, invited back, does not read %s", away)
		}
		carl.postTo("c", "back", ann, bob)
	})
}
