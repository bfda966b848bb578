package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/presence"
	"github.com/nats-io/nats.go"
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
	state, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &chat.Core{Log: l, State: state, Encode: encodeJSON, Presence: p, MaxBatch: jetlog.MaxBatch}
	c.Start()
	tc := &testCore{Core: c, t: t}
	t.Cleanup(func() {
		for _, s := range tc.sessions {
			s.End()
		}
		c.Stop()
		_ = p.Close()
		_ = l.Close()
		nc.Close()
	})
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
