package jetlog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"
)

// TestLog_Cluster publishes and reads through a stream of 3 replicas on
// 3 servers, from two nodes each connected to a different server.
func TestLog_Cluster(t *testing.T) {
	servers := startCluster(t)
	opt := jetlog.Options{Replicas: 3}
	a := mustNode(t, servers[0].URL(), opt)
	b := mustNode(t, servers[2].URL(), opt)
	want := appendBatches(t, []*jetlog.Log{a, b}, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1)
	checkIncreasing(t, want)
	checkSame(t, "a's Read", readAll(t, a), want)
	checkSame(t, "b's Read", readAll(t, b), want)
	checkSame(t, "b's Scan", scanAll(t, b, ulid.ULID{}), want)
	got := getAll(t, a, want[len(want)-1].ID, want[0].ID)
	checkSame(t, "a's Get", got, []eventlog.Record{want[len(want)-1], want[0]})
}

// TestLog_ServerRestart stops the server under a Log and starts it
// again: while it is down Publish fails at once and sends nothing; once
// it is back Publish works again and the tail goes on.
func TestLog_ServerRestart(t *testing.T) {
	s := natstest.Start(t)
	nc := mustConnect(t, s.URL())
	l := mustOpen(t, nc, jetlog.Options{})
	before := mustAppend(t, l, "before")

	s.Shutdown()
	s.WaitForShutdown()
	if err := retry(func() error {
		if nc.IsConnected() {
			return errors.New("still connected")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("while down")); !errors.Is(err, nats.ErrDisconnected) {
		t.Errorf("Append while the server is down = %v, want ErrDisconnected", err)
	}
	s.Restart(t)

	start := time.Now()
	var after []ulid.ULID
	err := retry(func() error {
		var err error
		after, err = l.Append([]byte("after"))
		if err != nil {
			t.Logf("Append after the restart: %v", err)
		}
		return err
	})
	if err != nil {
		t.Fatalf("Append after the restart: %v", err)
	}
	t.Logf("the first Append after the restart succeeded %v after it", time.Since(start).Round(time.Millisecond))
	want := []eventlog.Record{{ID: before[0], Data: []byte("before")}, {ID: after[0], Data: []byte("after")}}
	checkSame(t, "Read after the restart", readAll(t, l), want)
	other := mustNode(t, s.URL(), jetlog.Options{})
	checkSame(t, "a new node's Read", readAll(t, other), want)
}
