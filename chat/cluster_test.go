package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/presence"
	"github.com/chateau/chateau/projection"
	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"
)

// startNode starts a core as one node of a cluster on the NATS server at
// url: the stream "chateau" and its presence bucket, on a connection of
// its own, all closed when the test ends.
func startNode(t *testing.T, url string) *testCore {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	l, err := jetlog.Open(ctx, nc, jetlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := presence.Open(ctx, nc, presence.Options{Heartbeat: 100 * time.Millisecond, NodeTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tc := startOn(t, l, []func() error{p.Close, l.Close, func() error { nc.Close(); return nil }}, func(c *chat.Core) {
		c.Presence, c.MaxBatch = p, jetlog.MaxBatch
	})
	tc.shared = l
	return tc
}

// TestCore_Cluster drives the rules that need the other nodes, without a
// socket: two cores on one stream.
func TestCore_Cluster(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := startNode(t, url), startNode(t, url)
	ann := a.register("ann")
	// Registered on b a moment ago: a syncs before it says 404.
	bob := b.register("bob")
	ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "hi"}, chat.FrameSingleMessage, chat.StatusOK)
	if f := bob.next(t); f.Type != chat.FrameSingleMessageRecv || f.Content != "hi" {
		t.Fatalf("bob got %+v", f)
	}
	// ann is online on a: b refuses her name without a password.
	b.open().expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann"}, chat.FrameError, chat.StatusConflict)
	// A chat b does not know yet is created once.
	ann.expect(t, &chat.Request{Kind: chat.TypeGroupMessageInit, Chatname: "c", Recipients: []string{"bob"}, Content: "x"}, chat.FrameGroupMessageInit, chat.StatusOK)
	// b applies ann's chat, delivering it to bob, before it answers.
	bob.Submit(&chat.Request{Kind: chat.TypeGroupMessageInit, Chatname: "c", Recipients: []string{"ann"}, Content: "y", Received: time.Now()})
	if f := bob.next(t); f.Type != chat.FrameGroupMessageRecv || f.Content != "x" {
		t.Fatalf("bob got %+v, want ann's chat", f)
	}
	if f := bob.next(t); f.Type != chat.FrameError || f.Status != chat.StatusConflict {
		t.Fatalf("bob got %+v, want 302", f)
	}
	// Nobody on a nor b is "zed": 404 after the sync.
	ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "zed", Content: "?"}, chat.FrameError, chat.StatusNotFound)
}

// TestCore_Cluster_RetryForgotten: a request retried on another node after
// so many later ones that no node remembers it (MaxReceipts) is still
// answered with its original id, from the stream's dedup window, and
// stored once.
func TestCore_Cluster_RetryForgotten(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := startNode(t, url), startNode(t, url)
	b.register("bob")
	login := func(tc *testCore) *session {
		s := tc.open()
		s.expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "ann", Password: "correct horse"}, chat.FrameRegister, chat.StatusOK)
		return s
	}
	ann := login(a)
	send := func(s *session, id string) chat.Frame {
		return s.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: id, MessageID: json.RawMessage(strconv.Quote(id))},
			chat.FrameSingleMessage, chat.StatusOK)
	}
	first := send(ann, "m-0")
	for i := range projection.MaxReceipts + 5 {
		send(ann, fmt.Sprintf("m-%d", i+1))
	}
	again := login(b) // takes ann's session over
	if f := send(again, "m-0"); f.ID != first.ID {
		t.Fatalf("retry answered %s, first %s", f.ID, first.ID)
	}
	n := 0
	if err := b.shared.Scan(ulid.ULID{}, func(eventlog.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := 2 + projection.MaxReceipts + 6; n != want { // two users, the messages
		t.Fatalf("%d records, want %d", n, want)
	}
}

// TestCore_Cluster_UnreadableRecord: a record this node cannot apply (a
// newer node's format) is skipped, and counts as read: a sign-in that
// waits for the node to have read the whole log (freshState) does not
// wait for it in vain, and the node keeps serving.
func TestCore_Cluster_UnreadableRecord(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := startNode(t, url), startNode(t, url)
	ann, bob := a.register("ann"), b.register("bob")
	if _, err := a.shared.Publish([]eventlog.Entry{{Data: []byte{projection.FormatVersion + 1, 99, 0}}}); err != nil {
		t.Fatal(err)
	}
	b.open().expect(t, &chat.Request{Kind: chat.TypeRegister, Username: "cid", Password: "long enough"}, chat.FrameRegister, chat.StatusOK)
	ann.expect(t, &chat.Request{Kind: chat.TypeSingleMessage, Recipient: "bob", Content: "still here"}, chat.FrameSingleMessage, chat.StatusOK)
	if f := bob.next(t); f.Content != "still here" {
		t.Fatalf("bob got %+v, want ann's message after the unreadable record", f)
	}
}
