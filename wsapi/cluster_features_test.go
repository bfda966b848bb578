package wsapi_test

import (
	"slices"
	"testing"
	"time"

	"github.com/chateau/chateau/internal/natstest"
)

// The issue 14 rules across the nodes of a cluster (startCluster): what
// one node stores or forwards reaches users on the others.

// online is the ClientListResponse's names as u sees them.
func (u *user) online() []string {
	u.t.Helper()
	var names []string
	for _, n := range u.ok(msg{"type": "ClientListRequest"}, "ClientListResponse")["clients"].([]any) {
		names = append(names, n.(string))
	}
	return names
}

// moveTo closes u's connection and registers u again on ts, once the
// witness, on another connection, no longer lists u.
func (u *user) moveTo(t *testing.T, ts *testServer, witness *user) *user {
	t.Helper()
	u.ws.Close()
	eventually(t, 10*time.Second, u.name+" gone from "+witness.name+"'s list", func() bool {
		return !slices.Contains(witness.online(), u.name)
	})
	return signUpAgain(t, ts, u.name)
}

// TestClusterFeatures_Members: an invite and a leave on one node reach the
// members and the chat lists on the others; a marker set on one node
// counts on another.
func TestClusterFeatures_Members(t *testing.T) {
	n := startCluster(t)
	ann, bob, carl := signUp(t, n[0], "ann"), signUp(t, n[1], "bob"), signUp(t, n[2], "carl")
	ann.createChat("c", "first", bob)
	b1 := bob.postTo("c", "b1", ann)

	all := []string{"ann", "bob", "carl"}
	match(t, "invite", ann.ok(msg{"type": "ChatInviteRequest", "chatname": "c", "usernames": []string{"carl"}}, "ChatInviteResponse"), msg{"members": all})
	wantMembersChanged(t, msg{"chatname": "c", "members": all, "added": []string{"carl"}, "by": "ann"}, bob, carl)
	match(t, "bob's entry", bob.chatEntry("c"), msg{"members": all, "last_id": b1})
	match(t, "carl's entry", carl.chatEntry("c"), msg{"members": all, "last_id": b1, "unread": 0})
	if got := carl.history(msg{"chatname": "c"}); len(got) != 2 {
		t.Errorf("carl's history on a third node: %v, want 2 messages", got)
	}

	b2 := bob.postTo("c", "b2", ann, carl)
	match(t, "ann's entry", ann.chatEntry("c"), msg{"last_id": b2, "unread": 2})
	ann.ok(msg{"type": "MarkReadRequest", "chatname": "c", "id": b2}, "MarkReadResponse")
	d1 := bob.dm(ann, "ann", "d1")
	ann.ok(msg{"type": "MarkReadRequest", "recipient": "bob", "id": d1}, "MarkReadResponse")
	ann = ann.moveTo(t, n[2], bob)
	match(t, "ann's entry on another node", ann.chatEntry("c"), msg{"last_id": b2, "unread": 0})
	checkDirect(t, "ann on another node", ann.directEntries(), []msg{{"username": "bob", "last_id": d1, "unread": 0}})

	carl.ok(msg{"type": "ChatLeaveRequest", "chatname": "c"}, "ChatLeaveResponse")
	wantMembersChanged(t, msg{"chatname": "c", "members": []string{"ann", "bob"}, "removed": []string{"carl"}, "by": "carl"}, ann, bob)
	match(t, "bob's entry after the leave", bob.chatEntry("c"), msg{"members": []string{"ann", "bob"}})
	bob.postTo("c", "without carl", ann)
	carl.refused("post after leaving", msg{"type": "GroupMessageRequest", "chatname": "c", "content": "x"}, 403)
}

// TestClusterFeatures_Messages: edits, deletions and typing on one node
// reach the other party on another.
func TestClusterFeatures_Messages(t *testing.T) {
	n := startCluster(t)
	ann, bob := signUp(t, n[0], "ann"), signUp(t, n[1], "bob")
	ann.createChat("c", "first", bob)
	a1, d1 := ann.postTo("c", "a1", bob), ann.dm(bob, "bob", "d1")

	e := ann.ok(msg{"type": "EditMessageRequest", "id": a1, "content": "a1, edited"}, "EditMessageResponse")
	match(t, "bob's MessageEdited", bob.want("MessageEdited", 200), msg{"id": a1, "content": "a1, edited", "edited_id": e["edited_id"], "time": e["time"], "sender": "ann", "chatname": "c"})
	e = ann.ok(msg{"type": "EditMessageRequest", "id": d1, "content": "d1, edited"}, "EditMessageResponse")
	match(t, "bob's direct MessageEdited", bob.want("MessageEdited", 200), msg{"id": d1, "content": "d1, edited", "edited_id": e["edited_id"], "sender": "ann", "recipient": "bob"})
	match(t, "bob's direct history", messageWithID(bob.history(msg{"recipient": "ann"}), d1), msg{"content": "d1, edited", "edited": true})
	d := ann.ok(msg{"type": "DeleteMessageRequest", "id": a1}, "DeleteMessageResponse")
	match(t, "bob's MessageDeleted", bob.want("MessageDeleted", 200), msg{"id": a1, "deleted_id": d["deleted_id"], "sender": "ann", "chatname": "c"})
	checkDeleted(t, "bob's history", messageWithID(bob.history(msg{"chatname": "c"}), a1), "ann")
	bob.refused("edit ann's message", msg{"type": "EditMessageRequest", "id": d1, "content": "x"}, 403)

	ann.send(msg{"type": "TypingRequest", "chatname": "c"})
	ann.idle()
	match(t, "bob's Typing", bob.want("Typing", 200), msg{"chatname": "c", "username": "ann"})
	bob.send(msg{"type": "TypingRequest", "recipient": "ann"})
	bob.idle()
	match(t, "ann's direct Typing", ann.want("Typing", 200), msg{"sender": "bob", "username": "bob"})
}

// TestClusterFeatures_Presence: a user signing in or leaving on one node
// is announced to a partner on another, and to nobody who shares nothing.
func TestClusterFeatures_Presence(t *testing.T) {
	n := startCluster(t)
	bob, ann, carl := signUp(t, n[0], "bob"), signUp(t, n[1], "ann"), signUp(t, n[2], "carl")
	bob.createChat("c", "hi", ann)
	ann.dm(carl, "carl", "hi")

	bob.ws.Close()
	ann.wantPresence("bob", false)
	bob = signUpAgain(t, n[0], "bob")
	ann.wantPresence("bob", true)
	bob.ws.Close()
	ann.wantPresence("bob", false)
	bob = signUpAgain(t, n[2], "bob") // on carl's node
	ann.wantPresence("bob", true)

	ann.ws.Close()
	bob.wantPresence("ann", false)
	carl.wantPresence("ann", false) // nothing of bob's before
}

// TestClusterFeatures_Presence_NodeDies: the users of a node cut off from
// NATS go offline for their partners on the other nodes.
func TestClusterFeatures_Presence_NodeDies(t *testing.T) {
	servers := natstest.StartCluster(t, 3)
	a := startServer(t, mustOpenNode(t, servers[0].URL(), 3))
	dying := mustOpenNode(t, servers[1].URL(), 3)
	b := startServer(t, dying)
	ann, bob := signUp(t, a, "ann"), signUp(t, b, "bob")
	eventually(t, 5*time.Second, "ann sees bob", func() bool { return slices.Contains(ann.online(), "bob") })
	bob.createChat("c", "hi", ann)
	dying.kill()
	ann.wantPresence("bob", false)
}

// TestClusterFeatures_Retry: an edit and a deletion retried on another
// node, after signing in there, get their first answers.
func TestClusterFeatures_Retry(t *testing.T) {
	n := startCluster(t)
	bob := signUp(t, n[2], "bob")
	ann := signUpWith(t, n[0], "ann", "ann's password")
	id := ann.dm(bob, "bob", "hi")
	edit := msg{"type": "EditMessageRequest", "id": id, "content": "edited", "messageID": "e-1"}
	del := msg{"type": "DeleteMessageRequest", "id": id, "messageID": "d-1"}
	firstEdit := ann.ok(edit, "EditMessageResponse")
	firstDel := ann.ok(del, "DeleteMessageResponse")
	bob.want("MessageEdited", 200)
	bob.want("MessageDeleted", 200)

	again := signUpWith(t, n[1], "ann", "ann's password")
	if m := again.ask(edit); jsonOf(m) != jsonOf(firstEdit) {
		t.Errorf("edit retried on another node: %v, first %v", m, firstEdit)
	}
	if m := again.ask(del); jsonOf(m) != jsonOf(firstDel) {
		t.Errorf("deletion retried on another node: %v, first %v", m, firstDel)
	}
	bob.idle()
}
