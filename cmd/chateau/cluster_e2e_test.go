package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/projection"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// failoverWait bounds how long the cluster may take to serve again after
// a failure: the streams whose leader was on a stopped server elect a new
// one, which took over 10 s now and then on this 2-core machine running
// other tests.
const failoverWait = 45 * time.Second

// TestE2E_ClusterFailover drives load from several clients at three real
// nodes on a three-server R3 cluster, SIGKILLs one node, then stops the
// NATS server another node is connected to. Clients reconnect to a live
// node (their password takes their name over) and resume with since.
// Every acknowledged message must be in the stream exactly once under its
// id, every delivered one must be in it, and the cluster must keep
// serving: the last round's messages are acknowledged too.
func TestE2E_ClusterFailover(t *testing.T) {
	servers := natstest.StartCluster(t, 3)
	nodes := make([]*process, len(servers))
	for i := range nodes {
		// Each node lists its own server first, and all of them.
		urls := []string{servers[i].URL()}
		for j, s := range servers {
			if j != i {
				urls = append(urls, s.URL())
			}
		}
		nodes[i] = startServe(t, filepath.Join(t.TempDir(), "unused.db"), "-nats", strings.Join(urls, ","),
			"-admin-addr", "127.0.0.1:0", "-rate-limit", "0")
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %d:\n%s", i, n.log())
			}
		}
	})
	users := []string{"c0", "c1", "c2", "c3"}
	ledger := newCrashLedger()
	live := []int{0, 1, 2}
	failures := []func(){
		func() { // SIGKILL node 1
			_ = nodes[1].cmd.Process.Signal(syscall.SIGKILL)
			<-nodes[1].exited
			live = []int{0, 2}
		},
		func() { servers[0].Shutdown() }, // node 0's NATS server
		nil,                              // the cluster keeps serving
	}
	for round, fail := range failures {
		t.Logf("round %d", round)
		before := ledger.ackedCount()
		conns := make([]*websocket.Conn, len(users))
		for i, name := range users {
			conns[i] = ledger.signIn(t, nodes, live, i, name)
		}
		wg := ledger.driveAll(t, conns, users, round == 0)
		time.Sleep(time.Duration(200+rand.IntN(200)) * time.Millisecond)
		if fail != nil {
			fail()
		}
		time.Sleep(300 * time.Millisecond) // load on what is left
		if fail == nil {
			// The last round goes on until the cluster has acknowledged
			// some: leaders elected after the failures may take seconds.
			deadline := time.Now().Add(failoverWait)
			for ledger.ackedCount() < before+100 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
		if round == len(failures)-1 && ledger.ackedCount() == before {
			t.Fatalf("round %d: nothing acknowledged after the failures", round)
		}
	}
	ledger.check(t, streamMessages(t, natstest.URLs(servers[1:]), "crash"))
	t.Logf("%d messages acknowledged, %d deliveries seen, %d retries", ledger.ackedCount(), ledger.deliveries, ledger.retried)
}

// signIn dials a node of live and registers user with their password,
// resuming with since from the newest id they were sent. As a client
// would, it tries again on 500 (a node whose stream or presence bucket is
// electing a new leader after a server died) or a refused dial, for up to
// failoverWait.
func (l *crashLedger) signIn(t *testing.T, nodes []*process, live []int, i int, user string) *websocket.Conn {
	t.Helper()
	req := map[string]any{"type": "RegisterRequest", "username": user, "password": "password of " + user}
	l.mu.Lock()
	if since := l.last[user]; since != "" {
		req["since"] = since
	}
	l.mu.Unlock()
	deadline := time.Now().Add(failoverWait)
	for try := i; ; try++ {
		p := nodes[live[try%len(live)]]
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/ws", nil)
		if err == nil {
			t.Cleanup(func() { ws.Close() })
			m := call(t, ws, req)
			if m["type"] == "RegisterResponse" && m["status"] == float64(200) {
				return ws
			}
			err = fmt.Errorf("%v", m)
			ws.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("register %s: %v", user, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ackedCount is how many messages were acknowledged so far.
func (l *crashLedger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// streamMessages reads the chat's messages (id -> content) from the
// stream "chateau" through the NATS servers at urls.
func streamMessages(t *testing.T, urls, chat string) map[string]string {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := jetlog.Open(ctx, nc, jetlog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]string)
	err = l.Scan(eventlog.Record{}.ID, func(rec eventlog.Record) error {
		e, err := projection.Decode(rec.ID, rec.Data)
		if err != nil {
			return err
		}
		switch p := e.Payload.(type) {
		case projection.ChatCreated:
			if p.Chat == chat {
				stored[e.ID.String()] = p.Content
			}
		case projection.GroupMessagePosted:
			if p.Chat == chat {
				stored[e.ID.String()] = p.Content
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan the stream: %v", err)
	}
	if len(stored) == 0 {
		t.Fatal("the stream holds no message of the chat")
	}
	return stored
}
