package wsapi_test

import (
	"fmt"
	"log/slog"

	"github.com/chateau/chateau/chat"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/internal/natstest"
)

// startCluster starts three NATS servers forming a JetStream cluster and
// three Chateau nodes on it, each connected to its own server, sharing one
// R3 stream.
func startCluster(t *testing.T) []*testServer {
	t.Helper()
	servers := natstest.StartCluster(t, 3)
	nodes := make([]*testServer, len(servers))
	for i, s := range servers {
		nodes[i] = startServer(t, mustOpenNode(t, s.URL(), 3), func(c *chat.Core) {
			// Shown for a failed test only.
			c.Logger = slog.New(slog.NewTextHandler(t.Output(), nil)).With("node", i)
		})
	}
	return nodes
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clients returns the ClientListResponse's names as c sees them.
func (c *conn) clients() []string {
	c.t.Helper()
	m := c.roundTrip(msg{"type": "ClientListRequest"})
	var names []string
	for _, n := range m["clients"].([]any) {
		names = append(names, n.(string))
	}
	return names
}

// TestCluster_Protocol runs the seed protocol across three nodes: users on
// different nodes chat in a group and directly, list everyone, pick
// random partners, and are refused or taken over as on one server.
func TestCluster_Protocol(t *testing.T) {
	n := startCluster(t)
	ann, bob, carl := register(t, n[0], "ann"), register(t, n[1], "bob"), register(t, n[2], "carl")
	eventually(t, 5*time.Second, "every node lists all three", func() bool {
		return slices.Equal(ann.clients(), []string{"ann", "bob", "carl"}) && slices.Equal(carl.clients(), []string{"ann", "bob", "carl"})
	})

	ann.send(msg{"type": "GroupMessageInitRequest", "chatname": "team", "recipients": []string{"bob", "carl"}, "content": "hi"})
	ack := ann.expect("GroupMessageInitResponse", 200)
	for _, c := range []*conn{bob, carl} {
		if m := c.expect("GroupMessageRecv", 201); m["id"] != ack["id"] || m["content"] != "hi" {
			t.Fatalf("delivery %v, ack %v", m, ack)
		}
	}
	bob.send(msg{"type": "SingleMessageRequest", "recipient": "carl", "content": "psst"})
	bob.expect("SingleMessageResponse", 200)
	if m := carl.expect("SingleMessageRecv", 200); m["sender"] != "bob" {
		t.Fatalf("direct delivery %v", m)
	}
	carl.send(msg{"type": "RandomMessageRequest", "content": "who?"})
	chosen := carl.expect("RandomMessageResponse", 200)["clients"]
	to := map[any]*conn{"ann": ann, "bob": bob}[chosen]
	if to == nil {
		t.Fatalf("carl's random message went to %v, want ann or bob", chosen)
	}
	if m := to.expect("SingleMessageRecv", 200); m["random"] != true || m["sender"] != "carl" {
		t.Fatalf("%v got %v", chosen, m)
	}

	// An unprotected name online on another node is refused.
	if m := dialRegister(t, n[2], "ann", ""); m["status"] != float64(302) {
		t.Fatalf("ann again on another node: %v", m)
	}
	// History, chat lists and the log's ids are the same on every node.
	var pages []any
	for _, c := range []*conn{ann, bob, carl} {
		m := c.roundTrip(msg{"type": "HistoryRequest", "chatname": "team", "limit": 10})
		pages = append(pages, fmt.Sprint(m["messages"]))
	}
	if pages[0] != pages[1] || pages[1] != pages[2] {
		t.Fatalf("history differs between nodes: %v", pages)
	}
}

// dialRegister dials ts and sends a RegisterRequest, returning the answer.
func dialRegister(t *testing.T, ts *testServer, name, password string) msg {
	t.Helper()
	c := dial(t, ts)
	req := msg{"type": "RegisterRequest", "username": name}
	if password != "" {
		req["password"] = password
	}
	return c.roundTrip(req)
}

// TestCluster_Takeover: a protected name registering on another node takes
// its session over there.
func TestCluster_Takeover(t *testing.T) {
	n := startCluster(t)
	old := dial(t, n[0])
	old.send(msg{"type": "RegisterRequest", "username": "dora", "password": "correct horse"})
	old.expect("RegisterResponse", 200)
	now := dial(t, n[1])
	now.send(msg{"type": "RegisterRequest", "username": "dora", "password": "correct horse"})
	now.expect("RegisterResponse", 200)
	frames, _ := old.readUntilClose()
	if len(frames) != 1 || frames[0]["type"] != "SessionReplaced" {
		t.Fatalf("old session got %v, want SessionReplaced", frames)
	}
}

// TestCluster_Races: two nodes registering one new name, or creating one
// chat name, at the same moment: exactly one wins, the other gets 302.
func TestCluster_Races(t *testing.T) {
	n := startCluster(t)
	ann := register(t, n[0], "ann")
	bob := register(t, n[1], "bob")
	for round := range 10 {
		name := fmt.Sprintf("racer%d", round)
		statuses := race(t, func(i int) msg { return dialRegister(t, n[i], name, "") })
		if !slices.Equal(statuses, []float64{200, 302}) {
			t.Fatalf("register %s on two nodes: statuses %v, want one 200 and one 302", name, statuses)
		}
		chat := fmt.Sprintf("room%d", round)
		statuses = race(t, func(i int) msg {
			c, other := ann, "bob"
			if i == 1 {
				c, other = bob, "ann"
			}
			c.send(msg{"type": "GroupMessageInitRequest", "chatname": chat, "recipients": []string{other}, "content": "mine"})
			return c.answer()
		})
		if !slices.Equal(statuses, []float64{200, 302}) {
			t.Fatalf("create %s on two nodes: statuses %v, want one 200 and one 302", chat, statuses)
		}
	}
}

// answer reads frames until the answer to a request, skipping deliveries.
func (c *conn) answer() msg {
	c.t.Helper()
	for {
		if m := c.recv(); !strings.HasSuffix(m["type"].(string), "Recv") {
			return m
		}
	}
}

// race runs do(0) and do(1) at once and returns their statuses, sorted.
func race(t *testing.T, do func(i int) msg) []float64 {
	var wg sync.WaitGroup
	statuses := make([]float64, 2)
	for i := range 2 {
		wg.Go(func() { statuses[i] = do(i)["status"].(float64) })
	}
	wg.Wait()
	slices.Sort(statuses)
	return statuses
}

// TestCluster_ReadYourWrites: a user registered on one node a moment ago
// can be messaged from another, and a chat created on one can be posted
// to from another at once.
func TestCluster_ReadYourWrites(t *testing.T) {
	n := startCluster(t)
	ann := register(t, n[0], "ann")
	for i := range 20 {
		name := fmt.Sprintf("new%d", i)
		c := register(t, n[1], name)
		if m := ann.roundTrip(msg{"type": "SingleMessageRequest", "recipient": name, "content": "welcome"}); m["status"] != float64(200) {
			t.Fatalf("message to %s, registered on another node: %v", name, m)
		}
		c.expect("SingleMessageRecv", 200)
		chat := fmt.Sprintf("c%d", i)
		if m := c.roundTrip(msg{"type": "GroupMessageInitRequest", "chatname": chat, "recipients": []string{"ann"}, "content": "x"}); m["status"] != float64(200) {
			t.Fatalf("create %s: %v", chat, m)
		}
		// ann posts at once; her node applies the chat first, so the
		// chat's first message reaches her before her answer.
		ann.send(msg{"type": "GroupMessageRequest", "chatname": chat, "content": "y"})
		ann.expect("GroupMessageRecv", 201)
		ann.expect("GroupMessageResponse", 200)
		c.expect("GroupMessageRecv", 200)
	}
}

// TestCluster_Retry: a messageID retried on another node gets the
// original answer and stores nothing.
func TestCluster_Retry(t *testing.T) {
	n := startCluster(t)
	register(t, n[2], "bob")
	ann := dial(t, n[0])
	ann.send(msg{"type": "RegisterRequest", "username": "ann", "password": "correct horse"})
	ann.expect("RegisterResponse", 200)
	req := msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "once", "messageID": "m-1"}
	first := ann.roundTrip(req)
	// Signing in on another node takes the session over; the retry comes
	// from there at once.
	again := dial(t, n[1])
	again.send(msg{"type": "RegisterRequest", "username": "ann", "password": "correct horse"})
	again.expect("RegisterResponse", 200)
	if m := again.roundTrip(req); m["id"] != first["id"] || m["type"] != "SingleMessageResponse" {
		t.Fatalf("retry on another node: %v, first %v", m, first)
	}
}

// TestCluster_NodeDies: a node cut off from NATS drops out of the others'
// client lists within the presence TTL.
func TestCluster_NodeDies(t *testing.T) {
	servers := natstest.StartCluster(t, 3)
	a := startServer(t, mustOpenNode(t, servers[0].URL(), 3))
	dying := mustOpenNode(t, servers[1].URL(), 3)
	b := startServer(t, dying)
	ann, _ := register(t, a, "ann"), register(t, b, "bob")
	eventually(t, 5*time.Second, "ann sees bob", func() bool { return slices.Contains(ann.clients(), "bob") })
	dying.kill()
	eventually(t, testNodeTTL+5*time.Second, "bob gone from ann's list", func() bool { return !slices.Contains(ann.clients(), "bob") })
}

// TestCluster_Order: three members on three nodes post at once; each sees
// every message, its own acknowledgements included, in one order: the
// log's, with ids strictly increasing.
func TestCluster_Order(t *testing.T) {
	n := startCluster(t)
	names := []string{"ann", "bob", "carl"}
	members := make([]*conn, len(names))
	for i, name := range names {
		members[i] = register(t, n[i], name)
	}
	members[0].send(msg{"type": "GroupMessageInitRequest", "chatname": "team", "recipients": names, "content": "start"})
	members[0].expect("GroupMessageInitResponse", 200)
	members[1].expect("GroupMessageRecv", 201)
	members[2].expect("GroupMessageRecv", 201)
	const each = 30
	seen := make([][]string, len(members))
	var wg sync.WaitGroup
	for i, c := range members {
		wg.Go(func() {
			for k := range each {
				c.send(msg{"type": "GroupMessageRequest", "chatname": "team", "content": fmt.Sprintf("%s-%d", names[i], k)})
			}
			for len(seen[i]) < each*len(members) {
				m := c.recv()
				if m["type"] != "GroupMessageResponse" && m["type"] != "GroupMessageRecv" || m["status"] != float64(200) {
					t.Errorf("%s got %v", names[i], m)
					return
				}
				seen[i] = append(seen[i], m["id"].(string))
			}
		})
	}
	wg.Wait()
	for i := range members {
		if !slices.IsSorted(seen[i]) || len(slices.Compact(slices.Clone(seen[i]))) != len(seen[i]) {
			t.Errorf("%s saw ids out of order: %v", names[i], seen[i])
		}
		if !slices.Equal(seen[i], seen[0]) {
			t.Errorf("%s saw %v, ann saw %v", names[i], seen[i], seen[0])
		}
	}
}

// TestCluster_NATSDown: a node cut off from NATS answers writes 500, never
// a false 200, and serves again by itself once NATS is back.
func TestCluster_NATSDown(t *testing.T) {
	srv := natstest.Start(t)
	ts := startServer(t, mustOpenNode(t, srv.URL(), 1))
	ann, bob := register(t, ts, "ann"), register(t, ts, "bob")
	post := func() msg {
		return ann.roundTrip(msg{"type": "SingleMessageRequest", "recipient": "bob", "content": "hi"})
	}
	if m := post(); m["status"] != float64(200) {
		t.Fatalf("before: %v", m)
	}
	bob.expect("SingleMessageRecv", 200)
	srv.Shutdown()
	srv.WaitForShutdown()
	if m := post(); m["status"] != float64(500) {
		t.Fatalf("while NATS is down: %v, want 500", m)
	}
	bob.expectNothingQueued()
	srv.Restart(t)
	eventually(t, 15*time.Second, "a message is acknowledged again", func() bool { return post()["status"] == float64(200) })
	if m := bob.expect("SingleMessageRecv", 200); m["content"] != "hi" {
		t.Fatalf("bob got %v", m)
	}
}
