package wsapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chateau/chateau/chat"
)

// editSetup is a chat "c" of ann and bob, a direct conversation of theirs,
// and a chat "e" and a direct conversation of eve and bob that ann cannot
// read.
type editSetup struct {
	ann, bob, eve *user
	first, a1, b1 string // ann's first message of c, ann's and bob's posts
	d1            string // ann's direct message to bob
	e1            string // eve's first message of e
	x1            string // eve's direct message to bob
}

func setUpEdits(t *testing.T, ts *testServer) *editSetup {
	t.Helper()
	s := &editSetup{ann: signUp(t, ts, "ann"), bob: signUp(t, ts, "bob"), eve: signUp(t, ts, "eve")}
	s.first = s.ann.createChat("c", "first", s.bob)
	s.a1 = s.ann.postTo("c", "a1", s.bob)
	s.b1 = s.bob.postTo("c", "b1", s.ann)
	s.d1 = s.ann.dm(s.bob, "bob", "d1")
	s.e1 = s.eve.createChat("e", "eve's", s.bob)
	s.x1 = s.eve.dm(s.bob, "bob", "x1")
	return s
}

// TestFeatures_Edit: the answer, the push to the other members or party,
// the history's latest content marked edited, and every error row.
func TestFeatures_Edit(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		s := setUpEdits(t, ts)
		ann, bob := s.ann, s.bob

		ack := ann.ok(msg{"type": "EditMessageRequest", "id": s.a1, "content": "a1, fixed", "messageID": "e"}, "EditMessageResponse")
		match(t, "edit", ack, msg{"id": s.a1, "edited_id": present, "time": present})
		if id, _ := ack["edited_id"].(string); id <= s.x1 {
			t.Errorf("edited_id %v is not the edit's own, new id", ack["edited_id"])
		}
		m := bob.want("MessageEdited", 200)
		match(t, "bob's MessageEdited", m, msg{"id": s.a1, "content": "a1, fixed", "edited_id": ack["edited_id"], "time": ack["time"],
			"sender": "ann", "chatname": "c", "recipient": absent, "messageID": absent})
		ann.idle()
		s.eve.idle()

		for _, u := range []*user{ann, bob} {
			h := u.history(msg{"chatname": "c"})
			match(t, u.name+"'s history of the edited message", messageWithID(h, s.a1), msg{"sender": "ann", "content": "a1, fixed", "edited": true})
			match(t, u.name+"'s history of an unedited message", messageWithID(h, s.b1), msg{"content": "b1", "edited": absent})
		}

		// A direct message; edited twice, the latest content wins.
		ann.ok(msg{"type": "EditMessageRequest", "id": s.d1, "content": "d1, once"}, "EditMessageResponse")
		bob.want("MessageEdited", 200)
		ack = ann.ok(msg{"type": "EditMessageRequest", "id": s.d1, "content": "d1, twice"}, "EditMessageResponse")
		match(t, "bob's direct MessageEdited", bob.want("MessageEdited", 200), msg{"id": s.d1, "content": "d1, twice",
			"edited_id": ack["edited_id"], "time": ack["time"], "sender": "ann", "recipient": "bob", "chatname": absent})
		for _, u := range []*user{ann, bob} {
			other := map[string]string{"ann": "bob", "bob": "ann"}[u.name]
			match(t, u.name+"'s direct history", messageWithID(u.history(msg{"recipient": other}), s.d1), msg{"content": "d1, twice", "edited": true})
		}

		refuseAll("EditMessageRequest", []refusal{
			{"missing id", ann, msg{"content": "x"}, 400},
			{"bad id", ann, msg{"id": "nope", "content": "x"}, 400},
			{"missing content", ann, msg{"id": s.a1}, 400},
			{"empty content", ann, msg{"id": s.a1, "content": ""}, 400},
			{"only whitespace", ann, msg{"id": s.a1, "content": " \n\t "}, 400},
			{"content not a string", ann, msg{"id": s.a1, "content": 5}, 400},
			{"too large", ann, msg{"id": s.a1, "content": strings.Repeat("x", 16<<10+1)}, 413},
			{"not the sender, in a chat", bob, msg{"id": s.a1, "content": "x"}, 403},
			{"not the sender, direct", bob, msg{"id": s.d1, "content": "x"}, 403},
			{"no such message", ann, msg{"id": unknownID, "content": "x"}, 404},
			{"a chat one cannot read", ann, msg{"id": s.e1, "content": "x"}, 404},
			{"a direct conversation one cannot read", ann, msg{"id": s.x1, "content": "x"}, 404},
		})
		ann.idle()
		bob.idle()
		s.eve.idle()
		match(t, "a1 after the errors", messageWithID(ann.history(msg{"chatname": "c"}), s.a1), msg{"content": "a1, fixed"})
	})
}

// TestFeatures_Delete: the answer, the push, the history's stub without
// content, and every error row, a second delete included.
func TestFeatures_Delete(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		s := setUpEdits(t, ts)
		ann, bob := s.ann, s.bob
		ann.ok(msg{"type": "EditMessageRequest", "id": s.a1, "content": "edited before deletion"}, "EditMessageResponse")
		bob.want("MessageEdited", 200)

		ack := ann.ok(msg{"type": "DeleteMessageRequest", "id": s.a1, "messageID": "d"}, "DeleteMessageResponse")
		match(t, "delete", ack, msg{"id": s.a1, "deleted_id": present})
		match(t, "bob's MessageDeleted", bob.want("MessageDeleted", 200), msg{"id": s.a1, "deleted_id": ack["deleted_id"],
			"sender": "ann", "chatname": "c", "recipient": absent, "content": absent, "messageID": absent})
		ann.idle()
		s.eve.idle()
		for _, u := range []*user{ann, bob} {
			checkDeleted(t, u.name+"'s history", messageWithID(u.history(msg{"chatname": "c"}), s.a1), "ann")
		}

		ack = ann.ok(msg{"type": "DeleteMessageRequest", "id": s.d1}, "DeleteMessageResponse")
		match(t, "bob's direct MessageDeleted", bob.want("MessageDeleted", 200), msg{"id": s.d1, "deleted_id": ack["deleted_id"],
			"sender": "ann", "recipient": "bob", "chatname": absent})
		checkDeleted(t, "bob's direct history", messageWithID(bob.history(msg{"recipient": "ann"}), s.d1), "ann")
		// The first message of a chat is a message like the others.
		ann.ok(msg{"type": "DeleteMessageRequest", "id": s.first}, "DeleteMessageResponse")
		bob.want("MessageDeleted", 200)

		refuseAll("", []refusal{
			{"missing id", ann, msg{"type": "DeleteMessageRequest"}, 400},
			{"bad id", ann, msg{"type": "DeleteMessageRequest", "id": "nope"}, 400},
			{"id not a string", ann, msg{"type": "DeleteMessageRequest", "id": 5}, 400},
			{"not the sender", ann, msg{"type": "DeleteMessageRequest", "id": s.b1}, 403},
			{"no such message", ann, msg{"type": "DeleteMessageRequest", "id": unknownID}, 404},
			{"a chat one cannot read", ann, msg{"type": "DeleteMessageRequest", "id": s.e1}, 404},
			{"a direct conversation one cannot read", ann, msg{"type": "DeleteMessageRequest", "id": s.x1}, 404},
			{"a second delete", ann, msg{"type": "DeleteMessageRequest", "id": s.a1}, 404},
			{"a second delete, direct", ann, msg{"type": "DeleteMessageRequest", "id": s.d1}, 404},
			{"edit a deleted message", ann, msg{"type": "EditMessageRequest", "id": s.a1, "content": "x"}, 404},
		})
		ann.idle()
		bob.idle()
		match(t, "b1 after the errors", messageWithID(bob.history(msg{"chatname": "c"}), s.b1), msg{"content": "b1", "deleted": absent})
	})
}

// checkDeleted checks that m is a deleted message's stub: {id, sender,
// time, deleted: true} and nothing else.
func checkDeleted(t *testing.T, what string, m msg, sender string) {
	t.Helper()
	if !match(t, what, m, msg{"id": present, "sender": sender, "time": present, "deleted": true, "content": absent}) {
		return
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	if slices.Sort(keys); !slices.Equal(keys, []string{"deleted", "id", "sender", "time"}) {
		t.Errorf("%s: a deleted message has keys %v, want only id, sender, time, deleted", what, keys)
	}
}
