package wsapi_test

import (
	"fmt"
	"testing"

	"github.com/chateau/chateau/chat"
)

// TestFeatures_ChatList_Unread: a chat's unread counts the others'
// messages after the reader's marker, neither their own nor deleted ones.
func TestFeatures_ChatList_Unread(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob := signUp(t, ts, "ann"), signUp(t, ts, "bob")
		first := bob.createChat("c", "first", ann)
		a1 := ann.postTo("c", "a1", bob)
		b1 := bob.postTo("c", "b1", ann)
		b2 := bob.postTo("c", "b2", ann)
		match(t, "ann's entry", ann.chatEntry("c"), msg{"chatname": "c", "members": []string{"ann", "bob"}, "last_id": b2, "unread": 3})
		match(t, "bob's entry", bob.chatEntry("c"), msg{"last_id": b2, "unread": 1})

		bob.ok(msg{"type": "DeleteMessageRequest", "id": b1}, "DeleteMessageResponse")
		ann.want("MessageDeleted", 200)
		match(t, "ann's entry after a deletion", ann.chatEntry("c"), msg{"unread": 2})
		ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": first}, "MarkReadResponse")
		match(t, "ann's entry after reading the first", ann.chatEntry("c"), msg{"unread": 1})
		ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": b2}, "MarkReadResponse")
		match(t, "ann's entry after reading all", ann.chatEntry("c"), msg{"unread": 0})
		bob.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": a1}, "MarkReadResponse")
		match(t, "bob's entry after reading", bob.chatEntry("c"), msg{"unread": 0})
		b3 := bob.postTo("c", "b3", ann)
		match(t, "ann's entry after one more", ann.chatEntry("c"), msg{"last_id": b3, "unread": 1})
	})
}

// TestFeatures_ChatList_Direct: one entry per direct conversation, either
// direction, random ones included, sorted by username, with unread.
func TestFeatures_ChatList_Direct(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, carl := signUp(t, ts, "ann"), signUp(t, ts, "carl")
		// With only carl online, ann's random message goes to him.
		r := ann.ok(msg{"type": "RandomMessageRequest", "content": "hello stranger"}, "RandomMessageResponse")
		if r["clients"] != "carl" {
			t.Fatalf("random message to %v", r["clients"])
		}
		carl.want("SingleMessageRecv", 200)
		bob, dora := signUp(t, ts, "bob"), signUp(t, ts, "dora")
		if d := bob.directEntries(); len(d) != 0 {
			t.Errorf("bob has no direct conversations, got %v", d)
		}
		d1 := dora.dm(ann, "ann", "d1")
		a1 := ann.dm(bob, "bob", "a1")
		c1 := carl.dm(ann, "ann", "c1")
		c2 := carl.dm(ann, "ann", "c2")

		want := []msg{
			{"username": "bob", "last_id": a1, "unread": 0},
			{"username": "carl", "last_id": c2, "unread": 2},
			{"username": "dora", "last_id": d1, "unread": 1},
		}
		checkDirect(t, "ann", ann.directEntries(), want)
		checkDirect(t, "carl", carl.directEntries(), []msg{{"username": "ann", "last_id": c2, "unread": 1}})
		checkDirect(t, "bob", bob.directEntries(), []msg{{"username": "ann", "last_id": a1, "unread": 1}})

		ann.ok(msg{"type": "MarkReadRequest", "recipient": "carl", "id": c1}, "MarkReadResponse")
		want[1]["unread"] = 1
		checkDirect(t, "ann after reading c1", ann.directEntries(), want)
		carl.ok(msg{"type": "DeleteMessageRequest", "id": c2}, "DeleteMessageResponse")
		ann.want("MessageDeleted", 200)
		want[1]["unread"] = 0
		delete(want[1], "last_id") // a deleted last message: the spec leaves last_id open
		checkDirect(t, "ann after carl deleted c2", ann.directEntries(), want)
	})
}

func checkDirect(t *testing.T, what string, got, want []msg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: direct %v, want %v", what, got, want)
	}
	for i := range want {
		match(t, fmt.Sprintf("%s: direct[%d]", what, i), got[i], want[i])
	}
}

// TestFeatures_MarkRead: the marker only moves forward; every error row.
func TestFeatures_MarkRead(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		ann, bob, eve := signUp(t, ts, "ann"), signUp(t, ts, "bob"), signUp(t, ts, "eve")
		first := bob.createChat("c", "first", ann)
		b1, b2, b3 := bob.postTo("c", "b1", ann), bob.postTo("c", "b2", ann), bob.postTo("c", "b3", ann)
		d1 := bob.dm(ann, "ann", "d1")
		bob.dm(ann, "ann", "d2")
		other := eve.createChat("other", "not ann's", bob)

		m := ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": b2, "messageID": "m1"}, "MarkReadResponse")
		match(t, "mark b2", m, msg{"chatname": "c", "id": b2, "recipient": absent})
		match(t, "after b2", ann.chatEntry("c"), msg{"unread": 1})
		before := countRecords(t, l)
		for _, older := range []string{b1, first, b2} {
			m := ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": older}, "MarkReadResponse")
			match(t, "an older or equal id", m, msg{"chatname": "c", "id": b2})
		}
		if n := countRecords(t, l); n != before {
			t.Errorf("an older or equal id stored %d records", n-before)
		}
		match(t, "after older ids", ann.chatEntry("c"), msg{"unread": 1})
		match(t, "mark b3", ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": b3}, "MarkReadResponse"), msg{"id": b3})
		match(t, "after b3", ann.chatEntry("c"), msg{"unread": 0})
		m = ann.ok(msg{"type": "MarkReadRequest", "recipient": "bob", "id": d1}, "MarkReadResponse")
		match(t, "mark d1", m, msg{"recipient": "bob", "id": d1, "chatname": absent})
		checkDirect(t, "after d1", ann.directEntries(), []msg{{"username": "bob", "unread": 1}})
		bob.idle() // a marker is nobody else's business

		refuseAll("MarkReadRequest", []refusal{
			{"both", ann, msg{"chatname": "c", "recipient": "bob", "id": b1}, 400},
			{"neither", ann, msg{"id": b1}, 400},
			{"missing id", ann, msg{"chatname": "c"}, 400},
			{"bad id", ann, msg{"chatname": "c", "id": "nope"}, 400},
			{"id not a string", ann, msg{"chatname": "c", "id": 5}, 400},
			{"chatname not a string", ann, msg{"chatname": 5, "id": b1}, 400},
			{"not a member", eve, msg{"chatname": "c", "id": b1}, 403},
			{"no such chat", ann, msg{"chatname": "nope", "id": b1}, 404},
			{"no such user", ann, msg{"recipient": "zed", "id": d1}, 404},
			{"a direct message's id in a chat", ann, msg{"chatname": "c", "id": d1}, 404},
			{"a chat message's id in a direct conversation", ann, msg{"recipient": "bob", "id": b1}, 404},
			{"another chat's id", bob, msg{"chatname": "c", "id": other}, 404},
			{"an id that is no message", ann, msg{"chatname": "c", "id": unknownID}, 404},
		})
		match(t, "after the errors", ann.chatEntry("c"), msg{"unread": 0})
	})
}
