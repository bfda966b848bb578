package wsapi_test

import (
	"slices"
	"testing"

	"github.com/chateau/chateau/chat"
)

// TestFeatures_Typing: no answer, a push to the other members or party,
// at most one per 2 s and conversation, nothing stored, every error row.
func TestFeatures_Typing(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, carl, eve := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "eve")
		ann.createChat("c", "first", bob, carl)
		ann.dm(bob, "bob", "hi")
		before := countRecords(t, l)

		ann.send(msg{"type": "TypingRequest", "chatname": "c", "messageID": "t"})
		ann.idle() // no answer
		for _, u := range []*user{bob, carl} {
			match(t, u.name+"'s Typing", u.want("Typing", 200), msg{"chatname": "c", "username": "ann", "sender": absent, "messageID": absent})
		}
		eve.idle()
		// Again within 2 s: dropped; the members' next frame is ann's message.
		ann.send(msg{"type": "TypingRequest", "chatname": "c"})
		ann.idle()
		ann.postTo("c", "typed", bob, carl)

		// Twice in a direct conversation, then a message: one Typing first.
		ann.send(msg{"type": "TypingRequest", "recipient": "bob"})
		ann.send(msg{"type": "TypingRequest", "recipient": "bob"})
		ack := ann.ok(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "typed"}, "SingleMessageResponse")
		match(t, "bob's direct Typing", bob.want("Typing", 200), msg{"sender": "ann", "username": "ann", "chatname": absent, "messageID": absent})
		if m := bob.want("SingleMessageRecv", 200); m["id"] != ack["id"] {
			t.Errorf("bob got %v, want ann's message %v", m, ack["id"])
		}
		carl.idle()
		if n := countRecords(t, l); n != before+2 {
			t.Errorf("%d records stored for two messages and typing, want 2", n-before)
		}

		refuseAll("TypingRequest", []refusal{
			{"both", ann, msg{"chatname": "c", "recipient": "bob"}, 400},
			{"neither", ann, msg{}, 400},
			{"chatname not a string", ann, msg{"chatname": 1}, 400},
			{"a bad recipient name", ann, msg{"recipient": "a b"}, 400},
			{"not a member", eve, msg{"chatname": "c"}, 403},
			{"no such chat", ann, msg{"chatname": "nope"}, 404},
			{"no such user", ann, msg{"recipient": "zed"}, 404},
		})
		bob.idle()
		carl.idle()
	})
}

// TestFeatures_Presence: a user's partners (a chat or a direct
// conversation shared) hear of them coming and going; nobody else does,
// and nobody of themself. Pushes follow the changes in order, so a user
// not told of one change has, as next push, the next change they share.
func TestFeatures_Presence(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, carl, dora, eve := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "dora"), signUp(t, ts, "eve")
		ann.createChat("c", "hi", bob) // ann and bob share a chat
		carl.dm(ann, "ann", "hi")      // carl and ann a direct conversation
		dora.dm(eve, "eve", "hi")      // dora and eve theirs
		for _, u := range []*user{ann, bob, carl, dora, eve} {
			if u.idle(); len(u.presence) != 0 {
				t.Fatalf("%s told of %v; all were online before they shared anything", u.name, u.presence)
			}
		}

		bob.ws.Close()
		ann.wantPresence("bob", false)
		bob = signUpAgain(t, ts, "bob")
		ann.wantPresence("bob", true)

		dora.ws.Close()
		eve.wantPresence("dora", false)
		carl.ws.Close()
		ann.wantPresence("carl", false) // and nothing of dora's before
		ann.ws.Close()
		bob.wantPresence("ann", false) // nothing of carl's or dora's, nor of himself
		dora = signUpAgain(t, ts, "dora")
		eve.wantPresence("dora", true) // nothing of bob's, carl's or ann's
		dora.idle()
		if len(dora.presence) != 0 {
			t.Errorf("dora, back, told of %v", dora.presence)
		}
	})
}

// TestFeatures_Presence_Takeover: a protected name signing in again takes
// its session over, which is no change of presence.
func TestFeatures_Presence_Takeover(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l, cheapPasswords)
		ann, pat, quin := signUp(t, ts, "ann"), signUpWith(t, ts, "pat", "pat's password"), signUp(t, ts, "quin")
		pat.dm(ann, "ann", "hi")
		quin.dm(ann, "ann", "hi")
		again := signUpWith(t, ts, "pat", "pat's password")
		if frames, _ := pat.readUntilClose(); len(frames) != 1 || frames[0]["type"] != "SessionReplaced" {
			t.Fatalf("pat's first session got %v, want SessionReplaced", frames)
		}
		quin.ws.Close()
		ann.wantPresence("quin", false) // nothing of pat's before
		again.ws.Close()
		ann.wantPresence("pat", false)
	})
}

// TestFeatures_Presence_Membership: sharing a chat is being members now:
// an invitation makes partners, leaving ends it.
func TestFeatures_Presence_Membership(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, carl, dora := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "carl"), signUp(t, ts, "dora")
		ann.createChat("c", "hi", bob, carl)
		carl.ok(msg{"type": "ChatLeaveRequest", "chatname": "c"}, "ChatLeaveResponse")
		wantMembersChanged(t, msg{"removed": []string{"carl"}}, ann, bob)
		ann.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"dora"}}, "ChatInviteResponse")
		wantMembersChanged(t, msg{"added": []string{"dora"}}, bob, dora)

		// carl's going is queued, if at all, before the list without him.
		carl.ws.Close()
		eventually(t, waitFor, "carl gone from ann's list", func() bool { return !slices.Contains(ann.online(), "carl") })
		dora.ws.Close()
		ann.wantPresence("dora", false) // nothing of carl's before
		bob.wantPresence("dora", false)
	})
}
