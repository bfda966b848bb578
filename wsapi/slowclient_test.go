package wsapi_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/wsapi"

	"github.com/gorilla/websocket"
)

// TestServer_SlowClient: one member of a chat never reads while the others
// exchange 5,000 messages of 4 KiB. What that must mean, whatever else the
// machine is doing: the silent member, and only it, is taken offline and
// disconnected (counted once as too slow); the others get every message in
// order, none of them held anywhere near as long as a write blocked on the
// silent member would hold it (writeWait, 10 s); and the server's live heap
// stays bounded.
func TestServer_SlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 5,000 messages of 4 KiB")
	}
	res := slowClientRun(t)
	t.Logf("delivery p99 %v, slowest %v; live heap growth %.1f MiB", res.p99, res.slowest, float64(res.heapGrowth)/(1<<20))
	if res.slowest >= slowest {
		t.Errorf("a delivery took %v: the others waited behind the silent member", res.slowest)
	}
	// 5,000 frames of 4 KiB are 20 MiB, of which the sockets take at most
	// 4 MiB: an unbounded queue for the silent member would hold the rest.
	if res.heapGrowth > 8<<20 {
		t.Errorf("live heap grew by %d bytes", res.heapGrowth)
	}
}

// slowest bounds any delivery: half of writeWait, which a write blocked on
// a client that does not read would hold everyone for.
const slowest = 5 * time.Second

type slowClientResult struct {
	p99, slowest time.Duration
	heapGrowth   uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func slowClientRun(t *testing.T) slowClientResult {
	const messages, window = 5000, 16
	l, _ := mustOpenLog(t)
	// A queue of 256 frames of 4 KiB: the silent member's queue alone may
	// hold 1 MiB.
	ts := startServer(t, l, func(s *wsapi.Server) { s.SendQueue = 256 })
	defer ts.stop()
	sender := register(t, ts, "sender")
	readers := []*conn{register(t, ts, "r1"), register(t, ts, "r2")}
	quiet := dialSmallBuffer(t, ts)
	quiet.send(msg{"type": "RegisterRequest", "username": "quiet"})
	quiet.expect("RegisterResponse", 200)
	members := []string{"r1", "r2", "quiet"}
	sender.send(msg{"type": "GroupMessageInitRequest", "chatname": "room", "recipients": members, "content": "start"})
	sender.expect("GroupMessageInitResponse", 200)
	for _, r := range readers {
		r.expect("GroupMessageRecv", 201)
	}
	heapBefore := liveHeap()

	sentAt := make([]time.Time, messages)
	var mu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, len(readers)+1)
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for want := range messages {
				m, err := r.tryRecv(waitFor)
				if err != nil {
					errs <- err
					return
				}
				content := m["content"].(string)
				i, _ := strconv.Atoi(content[:strings.IndexByte(content, ' ')])
				if i != want {
					errs <- fmt.Errorf("got message %d, want %d: lost or out of order", i, want)
					return
				}
				mu.Lock()
				latencies = append(latencies, time.Since(sentAt[i]))
				mu.Unlock()
			}
		}()
	}
	// The sender keeps at most window messages unacknowledged.
	acks := make(chan struct{}, window)
	go func() {
		for range messages {
			if _, err := sender.tryRecv(waitFor); err != nil {
				errs <- err
				return
			}
			<-acks
		}
	}()
	pad := strings.Repeat("x", 4<<10)
	var peak uint64
	for i := range messages {
		select {
		case acks <- struct{}{}:
		case err := <-errs:
			t.Fatalf("stopped after %d messages: %v", i, err)
		}
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		if err := sender.ws.WriteJSON(msg{"type": "GroupMessageRequest", "chatname": "room", "content": fmt.Sprintf("%d %s", i, pad)}); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			peak = max(peak, liveHeap())
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("a member stopped receiving: %v", err)
	default:
	}
	res := slowClientResult{}
	if peak > heapBefore {
		res.heapGrowth = peak - heapBefore
	}
	slices.Sort(latencies)
	res.p99, res.slowest = latencies[len(latencies)*99/100], latencies[len(latencies)-1]

	m := readers[0].roundTrip(msg{"type": "ClientListRequest"})
	if !equalAny(m["clients"], []any{"r1", "r2", "sender"}) {
		t.Errorf("online after the run: %v; want the silent member, and only it, dropped", m)
	}
	if n := counted(ts.core.Metrics.SlowDisconnects); n != 1 {
		t.Errorf("%v slow disconnects counted, want 1", n)
	}
	// The server closes the silent member's connection. Its close frame
	// (1013) cannot reach a client that does not read, so the test watches
	// the server's count of connections instead; there is no event to wait
	// on from outside.
	deadline := time.Now().Add(waitFor)
	for ts.openConns() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want 3: the silent member was not disconnected", ts.openConns())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return res
}

// dialSmallBuffer dials with a small fixed socket receive buffer, so that a
// client that stops reading soon stops taking data: Linux would otherwise
// grow the buffer to tcp_rmem's maximum (32 MiB here).
func dialSmallBuffer(t *testing.T, ts *testServer) *conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(16 << 10)
		}
		return c, err
	}}
	ws, _, err := d.Dial(ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &conn{t: t, ws: ws}
}
