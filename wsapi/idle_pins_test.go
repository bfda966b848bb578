package wsapi

// Tests that pin what an idle connection costs: its reader parks on the
// smallest goroutine stack, and neither gorilla nor batchConn keeps a read
// buffer while it is parked (see Server.readPump and batchConn).

import (
	"context"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// idleConns is how many idle connections the memory tests open: enough for
// a few hundred kilobytes of the runtime's caches not to count.
const idleConns = 1000

// exactStacksEnv marks the process that inExactStacks starts.
const exactStacksEnv = "WSAPI_TEST_EXACT_STACKS"

// inExactStacks makes the test's measure of goroutine stacks exact. Unless
// this process is the one it starts, it runs the test again in a new
// process of this test binary where the runtime starts every goroutine
// with the smallest stack (GODEBUG adaptivestackstart=0; otherwise the size
// follows the stacks of earlier goroutines, other tests' too) and never
// shrinks a stack (gcshrinkstackoff=1; otherwise collections halve a
// parked goroutine's stack some time after it parked, which would hide a
// reader that parks on a grown stack), passes on its outcome and returns
// false. There it returns true, with GOMAXPROCS 2 until the test ends: the
// runtime keeps free stacks per processor, which would blur the measure on
// a larger machine.
func inExactStacks(t *testing.T) bool {
	t.Helper()
	if raceDetector {
		t.Skip("the race detector makes goroutine stacks larger")
	}
	if os.Getenv(exactStacksEnv) != "" {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
		return true
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	godebug := "adaptivestackstart=0,gcshrinkstackoff=1"
	if prev := os.Getenv("GODEBUG"); prev != "" {
		godebug = prev + "," + godebug
	}
	cmd.Env = append(os.Environ(), exactStacksEnv+"=1", "GODEBUG="+godebug)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in a new process with GODEBUG=%s: %v\n%s", godebug, err, out)
	}
	t.Logf("in a new process with GODEBUG=%s:\n%s", godebug, out)
	return false
}

// memory is what the process holds in goroutine stacks and live heap
// objects, and the stack a new goroutine starts with.
type memory struct{ stacks, heap, start int64 }

// memoryNow returns the memory after two collections: the second frees
// what sync.Pools kept from the first, the read buffers of batchConns too.
func memoryNow() memory {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/stack/starting-size:bytes"},
	}
	metrics.Read(s)
	return memory{int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64()), int64(s[2].Value.Uint64())}
}

// checkIdleCost measures what open costs per connection, opening n idle
// connections, and fails if a connection holds more stack than half again
// a new goroutine's, or more heap than maxHeap.
func checkIdleCost(t *testing.T, n int, maxHeap int64, open func()) {
	t.Helper()
	before := memoryNow()
	open()
	after := memoryNow()
	stack, heap := (after.stacks-before.stacks)/int64(n), (after.heap-before.heap)/int64(n)
	t.Logf("each of %d idle connections: %d bytes of stack (goroutines start with %d), %d bytes of heap",
		n, stack, after.start, heap)
	if stack > after.start*3/2 {
		t.Errorf("each idle connection holds %d bytes of goroutine stack, more than half again the %d a goroutine "+
			"starts with: its reader parks on a stack that grew, inside gorilla's read or in the goroutine that read "+
			"(Server.readPump must wait in batchConn.await, in a new goroutine after readMessages)", stack, after.start)
	}
	if heap > maxHeap {
		t.Errorf("each idle connection holds %d bytes of heap, more than %d: a read buffer is kept while idle "+
			"(gorilla's own, if it does not read through batchConn.br; or batchConn's pooled one)", heap, maxHeap)
	}
}

// pinReaders read as Server.readPump does, without a Server: each waits
// for data in batchConn.await, reads messages through gorilla until all
// that came is read, and goes on in a new goroutine.
type pinReaders struct {
	got     chan string   // every message read
	handed  chan struct{} // every hand-over to a new goroutine
	running sync.WaitGroup
}

func (p *pinReaders) start(u upgraded) {
	p.running.Add(1)
	go p.read(u)
}

func (p *pinReaders) read(u upgraded) {
	defer p.running.Done()
	for u.batch.await() > 0 && u.batch.idle() {
	}
	if p.readMessages(u) {
		p.start(u)
		p.handed <- struct{}{}
	}
}

//go:noinline
func (p *pinReaders) readMessages(u upgraded) bool {
	for {
		_, data, err := u.ws.ReadMessage()
		if err != nil {
			return false
		}
		p.got <- string(data)
		u.batch.dropPongs()
		if u.batch.idle() {
			return true
		}
	}
}

// TestHijacker_IdleReaderMemory pins, without a Server, that a connection
// upgraded by gorilla through the hijacker and read from as Server.readPump
// does costs little once idle: after a message read through gorilla, its
// reader parks in batchConn.await on the smallest stack (parked inside
// gorilla's read, it would need 4 KiB), and no read buffer stays behind:
// gorilla's is batchConn.br (288 bytes), and batchConn's pooled one is
// given back. That the reader goes on in a new goroutine barely shows
// here, where reading a message grows few stacks: TestServer_IdleMemory
// pins it.
func TestHijacker_IdleReaderMemory(t *testing.T) {
	if !inExactStacks(t) {
		return
	}
	addr, conns := startUpgrader(t)
	readers := &pinReaders{got: make(chan string, idleConns), handed: make(chan struct{}, idleConns)}
	t.Cleanup(func() { waitGroupWithin(t, &readers.running, pinWait) }) // once the clients are closed
	// Both ends of each connection count; a read buffer kept would add 4 KiB.
	checkIdleCost(t, idleConns, 6<<10, func() {
		clients := make([]net.Conn, 0, idleConns)
		for range idleConns {
			c, u := dialUpgraded(t, addr, conns)
			_ = u.batch.SetReadDeadline(time.Time{})
			readers.start(u)
			clients = append(clients, c)
		}
		msg := clientFrame(0x81, strings.Repeat("x", 100))
		for _, c := range clients {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.After(pinWait)
		for range idleConns {
			select {
			case <-readers.got:
			case <-deadline:
				t.Fatal("not every message was read")
			}
			select {
			case <-readers.handed:
			case <-deadline:
				t.Fatal("not every reader went on in a new goroutine")
			}
		}
	})
}

// waitGroupWithin waits for wg, failing the test after d.
func waitGroupWithin(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Errorf("goroutines still running after %v", d)
	}
}
