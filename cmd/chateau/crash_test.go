package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestE2E_CrashRecovery drives load from several clients at the real
// binary, SIGKILLs it at random moments and restarts it on the same file.
// Every acknowledged message must be in `events dump` exactly once with its
// id and content, every delivered message must be in it too (nothing is
// delivered before it is durable), a retry after the restart must get the
// stored id, and the server must always start. CHATEAU_CRASH_KILLS sets
// the number of kills (default 10).
func TestE2E_CrashRecovery(t *testing.T) {
	kills := 10
	if s := os.Getenv("CHATEAU_CRASH_KILLS"); s != "" {
		var err error
		if kills, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	users := []string{"c0", "c1", "c2", "c3"}
	data := filepath.Join(t.TempDir(), "chateau.db")
	ledger := newCrashLedger()
	for round := range kills {
		p := startServe(t, data, "-rate-limit", "0")
		conns := make([]*websocket.Conn, len(users))
		for i, name := range users {
			conns[i] = p.dial(t)
			if m := call(t, conns[i], map[string]any{"type": "RegisterRequest", "username": name}); m["type"] != "RegisterResponse" || m["status"] != float64(200) {
				t.Fatalf("round %d: register %s: %v", round, name, m)
			}
		}
		wg := ledger.driveAll(t, conns, users, round == 0)
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond) // the random moment of the kill
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		wg.Wait()
	}

	out, stderr, err := runBinary(context.Background(), "events", "dump", "-data", data, "-chat", "crash")
	if err != nil {
		t.Fatalf("dump: %v: %s", err, stderr)
	}
	stored := make(map[string]string) // id -> content
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			ID   string
			Data struct{ Content string }
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		stored[e.ID] = e.Data.Content
	}
	ledger.check(t, stored)
	t.Logf("%d kills, %d messages stored, %d acknowledged, %d deliveries seen, %d retries after restarts (%d of them stored and delivered before the kill)",
		kills, len(stored), len(ledger.acked), ledger.deliveries, ledger.retried, ledger.retriesMatched)
}

// check holds what the clients were told against stored, the log's
// messages (id -> content): every acknowledged message is stored under
// its id, once; every delivered one is stored; no answer contradicted
// another.
func (l *crashLedger) check(t *testing.T, stored map[string]string) {
	t.Helper()
	times := make(map[string]int) // content -> occurrences
	for _, content := range stored {
		times[content]++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, content := range l.acked {
		if stored[id] != content {
			t.Errorf("acknowledged %s (%q) is not in the log (log has %q)", id, content, stored[id])
		}
	}
	for _, c := range l.conflicts {
		t.Error(c)
	}
	for content, n := range times {
		if n != 1 {
			t.Errorf("%q is stored %d times", content, n)
		}
	}
	for id, content := range l.delivered {
		if stored[id] != content {
			t.Errorf("delivered %s (%q) is not in the log", id, content)
		}
	}
	if len(l.acked) == 0 {
		t.Fatal("no message was acknowledged: the test drove no load")
	}
}

// driveAll has each user drive load on their connection (drive), in
// goroutines that end with the connections; first creates the chat
// "crash" of all users before. Wait on the returned group.
func (l *crashLedger) driveAll(t *testing.T, conns []*websocket.Conn, users []string, first bool) *sync.WaitGroup {
	t.Helper()
	if first {
		m := call(t, conns[0], map[string]any{"type": "GroupMessageInitRequest", "chatname": "crash", "recipients": users, "content": "start"})
		if m["status"] != float64(200) {
			t.Fatalf("create chat: %v", m)
		}
	}
	var wg sync.WaitGroup
	for i, name := range users {
		wg.Go(func() { l.drive(conns[i], name) })
	}
	return &wg
}

// crashLedger records what the clients were told, across rounds.
type crashLedger struct {
	mu             sync.Mutex
	acked          map[string]string // id -> content
	delivered      map[string]string // id -> content
	deliveries     int
	pending        map[string]string // user -> last unacknowledged content
	retried        int
	retries        map[string]bool // contents sent again after a restart
	retriesMatched int
	seq            int
	conflicts      []string
	last           map[string]string // user -> newest id they were sent
}

func newCrashLedger() *crashLedger {
	return &crashLedger{acked: map[string]string{}, delivered: map[string]string{}, pending: map[string]string{},
		retries: map[string]bool{}, last: map[string]string{}}
}

// saw notes that user was sent id, for the since of their next session.
func (l *crashLedger) saw(user, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id > l.last[user] {
		l.last[user] = id
	}
}

// drive first retries the user's unacknowledged message from the last
// round (same messageID), then sends new messages with up to 8 in flight,
// until the connection dies.
func (l *crashLedger) drive(ws *websocket.Conn, user string) {
	inflight := make(chan string, 8) // contents sent, in order
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_ = ws.SetReadDeadline(time.Now().Add(e2eWait))
			var m map[string]any
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			id, _ := m["id"].(string)
			if id != "" {
				l.saw(user, id)
			}
			switch m["type"] {
			case "ReplayComplete", "PresenceChanged":
			case "ErrorResponse":
				// A node cut off from its log answers 500; the message
				// stays unacknowledged, and may or may not be stored.
				content := <-inflight
				if m["status"] != float64(500) {
					l.mu.Lock()
					l.conflicts = append(l.conflicts, fmt.Sprintf("%v for %s", m, content))
					l.mu.Unlock()
				}
			case "GroupMessageRecv":
				l.mu.Lock()
				l.delivered[id] = m["content"].(string)
				l.deliveries++
				l.mu.Unlock()
			case "GroupMessageResponse":
				content := <-inflight
				if m["messageID"] != content {
					l.mu.Lock()
					l.conflicts = append(l.conflicts, fmt.Sprintf("answers out of order: ack %s echoes %v, expected %s", id, m["messageID"], content))
					l.mu.Unlock()
				}
				l.mu.Lock()
				if _, ok := l.acked[id]; ok && l.acked[id] != content {
					l.conflicts = append(l.conflicts, fmt.Sprintf("id %s acknowledged for %q and then for %q", id, l.acked[id], content))
				}
				if l.pending[user] == content {
					delete(l.pending, user)
				}
				if l.retries[content] && l.delivered[id] == content {
					// Stored before the kill, delivered then, and now
					// answered with the same id.
					l.retriesMatched++
				}
				l.acked[id] = content
				l.mu.Unlock()
			default:
				c := <-inflight
				l.mu.Lock()
				l.conflicts = append(l.conflicts, fmt.Sprintf("unexpected answer %v to %s", m, c))
				l.mu.Unlock()
			}
		}
	}()
	send := func(content string) bool {
		select {
		case inflight <- content:
		case <-done:
			return false
		}
		// The messageID is the content: a retry repeats both.
		return ws.WriteJSON(map[string]any{"type": "GroupMessageRequest", "chatname": "crash", "content": content, "messageID": content}) == nil
	}
	l.mu.Lock()
	retry, ok := l.pending[user]
	if ok {
		l.retried++
		l.retries[retry] = true
	}
	l.mu.Unlock()
	if ok && !send(retry) {
		<-done
		return
	}
	for {
		l.mu.Lock()
		l.seq++
		content := fmt.Sprintf("%s-%d", user, l.seq)
		if _, waiting := l.pending[user]; !waiting {
			l.pending[user] = content
		}
		l.mu.Unlock()
		if !send(content) {
			break
		}
	}
	<-done
}
