package wsapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/chateau/chateau/broadcast"
	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/presence"
	"github.com/nats-io/nats.go"
)

// backends are the logs the protocol tests run on: one suite, every
// backend.
var backends = []struct {
	name string
	open func(t *testing.T) chat.Log
}{
	{"bbolt", func(t *testing.T) chat.Log { l, _ := mustOpenLog(t); return l }},
	{"jetstream", func(t *testing.T) chat.Log { return mustOpenNode(t, natstest.Start(t).URL(), 1) }},
}

// eachBackend runs test once on each backend's log, as a subtest.
func eachBackend(t *testing.T, test func(t *testing.T, l chat.Log)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

// node is one Chateau node's log, presence and broadcast of typing on a
// NATS server or cluster; startServer gives its core the last two.
type node struct {
	*jetlog.Log
	presence  *presence.Presence
	broadcast *broadcast.Broadcast
	nc        *nats.Conn
}

// kill cuts the node off from NATS for good, as a dead machine is.
func (n *node) kill() { n.nc.Close() }

// presenceTimings are short, so that a test sees a dead node's users go
// within seconds.
const (
	testHeartbeat = 100 * time.Millisecond
	testNodeTTL   = time.Second
)

// mustOpenNode connects to the NATS servers at urls and opens the stream
// "chateau" (creating it with replicas copies) and the presence bucket,
// all closed when the test ends.
func mustOpenNode(t testing.TB, urls string, replicas int) *node {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := jetlog.Open(ctx, nc, jetlog.Options{Replicas: replicas})
	if err != nil {
		nc.Close()
		t.Fatalf("open stream: %v", err)
	}
	p, err := presence.Open(ctx, nc, presence.Options{Replicas: replicas, Heartbeat: testHeartbeat, NodeTTL: testNodeTTL})
	if err != nil {
		_ = l.Close()
		nc.Close()
		t.Fatalf("open presence: %v", err)
	}
	b, err := broadcast.Open(nc, "_chateau.chateau.typing")
	if err != nil {
		t.Fatalf("open broadcast: %v", err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		_ = p.Close()
		_ = l.Close()
		nc.Close()
	})
	return &node{Log: l, presence: p, broadcast: b, nc: nc}
}
