package presence_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/presence"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestPresence_Claim_Elsewhere(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, fast()), mustOpen(t, url, fast())
	for _, name := range []string{"alice", "a.b.c", "zoë ✓", "*>"} {
		mustClaim(t, a, name, false, true)
		eventually(t, name+" online in B's Others", seesOnline(b, name))
		mustClaim(t, b, name, false, false)
		mustClaim(t, a, name, false, true) // its own: claimed again
		if slices.Contains(a.p.Others(), name) {
			t.Errorf("A's Others lists %q, which A holds", name)
		}
	}
}

func TestPresence_Claim_Takeover(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, fast()), mustOpen(t, url, fast())
	mustClaim(t, a, "alice", false, true)
	mustClaim(t, b, "alice", true, true)
	mustLose(t, a, "alice")
	eventually(t, "alice (now on B) in A's Others", seesOnline(a, "alice"))
	if slices.Contains(b.p.Others(), "alice") {
		t.Error("B's Others lists alice, which B holds")
	}
	mustClaim(t, a, "alice", false, false)
}

// TestPresence_Release_NotHeld releases a name another node took over,
// before this node learnt of it (its release is refused by the server)
// and after (it knows it holds nothing).
func TestPresence_Release_NotHeld(t *testing.T) {
	for _, tc := range []struct {
		name     string
		waitLost bool
	}{{"before Lost", false}, {"after Lost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			url := natstest.Start(t).URL()
			a, b, c := mustOpen(t, url, fast()), mustOpen(t, url, fast()), mustOpen(t, url, fast())
			mustClaim(t, a, "alice", false, true)
			mustClaim(t, a, "marker", false, true)
			eventually(t, "marker online in C's Others", seesOnline(c, "marker"))
			mustClaim(t, b, "alice", true, true)
			if tc.waitLost {
				mustLose(t, a, "alice")
			}
			a.p.Release("alice")
			a.p.Release("marker") // sent after alice's: once it is gone, so is alice's release
			eventually(t, "marker offline in C's Others", seesOffline(c, "marker"))
			mustClaim(t, c, "alice", false, false)
			if !slices.Contains(c.p.Others(), "alice") {
				t.Error("alice, held by B, is not in C's Others")
			}
		})
	}
}

func TestPresence_Release_Others(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, fast()), mustOpen(t, url, fast())
	mustClaim(t, a, "bob", false, true)
	eventually(t, "bob online in B's Others", seesOnline(b, "bob"))
	a.p.Release("bob")
	eventually(t, "bob offline in B's Others", seesOffline(b, "bob"))
	mustClaim(t, b, "bob", false, true)
	eventually(t, "bob (now on B) in A's Others", seesOnline(a, "bob"))
	a.p.Release("bob") // A no longer holds it
	mustClaim(t, b, "bob", false, true)
	mustClaim(t, a, "bob", false, false)
}

func TestPresence_Claim_Race(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, fast()), mustOpen(t, url, fast())
	names := make([]string, 30)
	for i := range names {
		names[i] = fmt.Sprintf("racer.%d", i)
	}
	race(t, a, b, names)
	for _, name := range names {
		a.p.Release(name)
		b.p.Release(name)
	}
	for _, name := range names {
		eventually(t, name+" offline in A's Others", seesOffline(a, name))
		eventually(t, name+" offline in B's Others", seesOffline(b, name))
	}
	race(t, a, b, names) // now over released names: delete markers
}

// TestPresence_Release_Retried releases a name while NATS is down: the
// release fails, and is sent again once NATS is back. Claims show it: the
// name is free, while the node's other name is still its own.
func TestPresence_Release_Retried(t *testing.T) {
	srv := natstest.Start(t)
	logs := make(logSignal, 16)
	reconnect := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
	a := mustOpen(t, srv.URL(), presence.Options{Logger: slog.New(logs)},
		append(reconnect, nats.ReconnectBufSize(-1))...) // publish fails at once while disconnected
	b := mustOpen(t, srv.URL(), presence.Options{}, reconnect...)
	mustClaim(t, a, "kim", false, true)
	mustClaim(t, a, "lee", false, true)

	srv.Shutdown()
	srv.WaitForShutdown()
	eventually(t, "A disconnected", func() bool { return a.nc.Status() == nats.RECONNECTING })
	a.p.Release("kim")
	waitLog(t, logs, "presence: release failed")
	srv.Restart(t)
	eventually(t, "B claims kim", func() bool {
		won, err := b.p.Claim("kim", false)
		return err == nil && won
	})
	mustClaim(t, b, "lee", false, false)
	closeNow(t, a, b)
}

// TestPresence_Others_FrozenWhileCutOff cuts both nodes off from NATS for
// longer than NodeTTL: neither hears the other, nor itself, so neither
// counts the other dead; its view freezes.
func TestPresence_Others_FrozenWhileCutOff(t *testing.T) {
	srv := natstest.Start(t)
	a, b := mustOpen(t, srv.URL(), fast()), mustOpen(t, srv.URL(), fast())
	mustClaim(t, a, "mia", false, true)
	eventually(t, "mia online in B's Others", seesOnline(b, "mia"))
	srv.Shutdown()
	srv.WaitForShutdown()
	for end := time.Now().Add(2 * fastNodeTTL); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !slices.Contains(b.p.Others(), "mia") {
			t.Fatal("mia went from B's Others while B could not hear itself either")
		}
	}
	a.nc.Close() // so that Close does not wait for the server
	b.nc.Close()
}

// TestPresence_Others_AfterServerRestart restarts the only server: the
// watches' consumers go with it, and NATS's client would recreate them
// only after some ten seconds. The nodes notice within a few heartbeats
// that their own heartbeats do not come back, and watch again.
func TestPresence_Others_AfterServerRestart(t *testing.T) {
	srv := natstest.Start(t)
	reconnect := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
	a, b := mustOpen(t, srv.URL(), fast(), reconnect...), mustOpen(t, srv.URL(), fast(), reconnect...)
	mustClaim(t, a, "nora", false, true)
	eventually(t, "nora online in B's Others", seesOnline(b, "nora"))

	srv.Shutdown()
	srv.WaitForShutdown()
	srv.Restart(t)
	eventually(t, "A claims omar after the restart", func() bool {
		won, err := a.p.Claim("omar", false)
		return err == nil && won
	})
	seen := eventually(t, "omar online in B's Others", seesOnline(b, "omar"))
	if limit := 10 * fastHeartbeat; seen > limit {
		t.Errorf("B saw omar %v after A claimed it, want within %v", seen, limit)
	}
	a.p.Release("nora")
	eventually(t, "nora offline in B's Others", seesOffline(b, "nora"))
	closeNow(t, a, b)
}

// TestPresence_NodeDies cuts a node off by closing its connection: it
// neither heartbeats nor says goodbye.
func TestPresence_NodeDies(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, fast()), mustOpen(t, url, fast())
	mustClaim(t, a, "carol", false, true)
	mustClaim(t, a, "dave", false, true)
	eventually(t, "dave online in B's Others", seesOnline(b, "dave"))
	a.nc.Close()
	gone := eventually(t, "carol offline in B's Others", seesOffline(b, "carol"))
	if slices.Contains(b.p.Others(), "dave") {
		t.Error("dave is still in B's Others after carol went")
	}
	if limit := fastNodeTTL + fastHeartbeat + 500*time.Millisecond; gone > limit {
		t.Errorf("carol went after %v, want within %v", gone, limit)
	}
	if least := fastNodeTTL / 2; gone < least {
		t.Errorf("carol went after %v, before A could count as dead (%v)", gone, least)
	}
	mustClaim(t, b, "carol", false, true)
	mustClaim(t, b, "dave", false, true)
}

// TestPresence_Open_Loads opens a node after others have claimed names:
// Open returns knowing the live node's names, and not the dead one's,
// although the dead node's last heartbeat is still in the bucket.
func TestPresence_Open_Loads(t *testing.T) {
	url := natstest.Start(t).URL()
	mustOpen(t, url, presence.Options{}) // makes the nodes bucket keep heartbeats 10 s
	live, dead := mustOpen(t, url, fast()), mustOpen(t, url, fast())
	mustClaim(t, live, "erin", false, true)
	mustClaim(t, dead, "frank", false, true)
	watcher := mustOpen(t, url, fast())
	eventually(t, "frank online in a watcher's Others", seesOnline(watcher, "frank"))
	dead.nc.Close()
	eventually(t, "frank offline in a watcher's Others", seesOffline(watcher, "frank"))

	late := mustOpen(t, url, fast())
	others := late.p.Others()
	if !slices.Contains(others, "erin") {
		t.Errorf("Others after Open = %q, want erin in it", others)
	}
	if slices.Contains(others, "frank") {
		t.Errorf("Others after Open = %q: frank's node is dead", others)
	}
	mustClaim(t, late, "erin", false, false)
	mustClaim(t, late, "frank", false, true)
}

// TestPresence_Claim_UnknownNode claims names held by nodes this node has
// not heard from: one that never said it was alive (dead), and one whose
// first heartbeat was stored just now (alive, even if the watch has not
// delivered it yet).
func TestPresence_Claim_UnknownNode(t *testing.T) {
	url := natstest.Start(t).URL()
	a := mustOpen(t, url, fast())
	js, err := jetstream.New(a.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	claims, err := js.KeyValue(ctx, presence.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := js.KeyValue(ctx, presence.DefaultBucket+"-nodes")
	if err != nil {
		t.Fatal(err)
	}
	put := func(kv jetstream.KeyValue, key, value string) {
		t.Helper()
		if _, err := kv.Put(ctx, hex.EncodeToString([]byte(key)), []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	put(claims, "gina", "ghost")
	put(nodes, "newbie", "newbie")
	put(claims, "hugo", "newbie")
	mustClaim(t, a, "hugo", false, false)
	mustClaim(t, a, "gina", false, true)
}

func TestPresence_Close(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, presence.Options{}), mustOpen(t, url, presence.Options{})
	mustClaim(t, a, "hank", false, true)
	mustClaim(t, a, "ida", false, true)
	a.p.Release("ida")
	eventually(t, "hank online in B's Others", seesOnline(b, "hank"))
	start := time.Now()
	if err := a.p.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hank offline in B's Others", seesOffline(b, "hank"))
	if took := time.Since(start); took >= presence.DefaultNodeTTL/2 {
		t.Errorf("hank went %v after Close: not deleted, only timed out", took)
	}
	if _, err := a.p.Claim("hank", false); !errors.Is(err, presence.ErrClosed) {
		t.Errorf("Claim after Close: %v, want ErrClosed", err)
	}
	a.p.Release("hank")
	if _, ok := <-a.p.Lost(); ok {
		t.Error("Lost is open after Close")
	}
	mustClaim(t, b, "hank", false, true)
	mustClaim(t, b, "ida", false, true)
}

func TestOpen_Options(t *testing.T) {
	url := natstest.Start(t).URL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, opt := range []presence.Options{
		{Heartbeat: time.Second, NodeTTL: time.Second},
		{Heartbeat: 11 * time.Second},
		{Heartbeat: -time.Second},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		p, err := presence.Open(ctx, nc, opt)
		cancel()
		if !errors.Is(err, presence.ErrOptions) {
			t.Errorf("Open(%+v): %v, want ErrOptions", opt, err)
		}
		if p != nil {
			p.Close()
		}
	}
}
