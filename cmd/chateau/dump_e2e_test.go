package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
)

// ack sends req on ws and returns the id of the event its answer names
// (a registration's last_id is its own event), passing over the
// deliveries that arrive meanwhile; it fails the test unless the answer is
// a 200.
func ack(t *testing.T, ws *websocket.Conn, req map[string]any) string {
	t.Helper()
	// The answer is told from the pushes by its messageID.
	req = maps.Clone(req)
	if _, ok := req["messageID"]; !ok {
		req["messageID"] = "ack-" + ulid.Make().String()
	}
	if err := ws.WriteJSON(req); err != nil {
		t.Fatal(err)
	}
	for {
		m := read(t, ws)
		if m["messageID"] != req["messageID"] {
			continue
		}
		if m["status"] != float64(200) {
			t.Fatalf("%v: %v", req["type"], m)
		}
		if id, ok := m["id"].(string); ok {
			return id
		}
		id, _ := m["last_id"].(string)
		return id
	}
}

// chatting is a running server with ann (who has a password), bob and
// carl signed in, and the ids of the events they made: 0-2 their
// registrations, 3 ann's chat "team" with bob, 4 bob's answer, 5 ann's
// direct message to carl, 6 carl's chat "side" with ann.
type chatting struct {
	p             *process
	data          string
	ann, bob, cal *websocket.Conn
	ids           []string
}

func startChatting(t *testing.T, serveArgs ...string) *chatting {
	t.Helper()
	c := &chatting{data: filepath.Join(t.TempDir(), "chateau.db")}
	c.p = startServe(t, c.data, serveArgs...)
	c.ann, c.bob, c.cal = c.p.dial(t), c.p.dial(t), c.p.dial(t)
	for _, r := range []struct {
		ws  *websocket.Conn
		req map[string]any
	}{
		{c.ann, map[string]any{"type": "RegisterRequest", "username": "ann", "password": "ann's-secret"}},
		{c.bob, map[string]any{"type": "RegisterRequest", "username": "bob"}},
		{c.cal, map[string]any{"type": "RegisterRequest", "username": "carl"}},
	} {
		c.ids = append(c.ids, ack(t, r.ws, r.req))
	}
	c.ids = append(c.ids,
		ack(t, c.ann, map[string]any{"type": "GroupMessageInitRequest", "chatname": "team", "recipients": []string{"bob"}, "content": "hello team"}),
		ack(t, c.bob, map[string]any{"type": "GroupMessageRequest", "chatname": "team", "content": "hi ann", "messageID": "b1"}),
		ack(t, c.ann, map[string]any{"type": "SingleMessageRequest", "recipient": "carl", "content": "psst"}),
		ack(t, c.cal, map[string]any{"type": "GroupMessageInitRequest", "chatname": "side", "recipients": []string{"ann"}, "content": "a word"}),
	)
	return c
}

// lineID is the event id a line of `events dump` shows, JSON or text.
func lineID(t *testing.T, line string) string {
	t.Helper()
	if strings.HasPrefix(line, "{") {
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		return e.ID
	}
	if f := strings.Fields(line); len(f) > 1 {
		return f[1]
	}
	t.Fatalf("line %q has no id", line)
	return ""
}

// exitStatus is the exit status of a finished command, -1 if it has none.
func exitStatus(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// TestE2E_Dump_ThroughServer dumps a running server's log, found from
// -data alone, with filters and both formats, then dumps the file once the
// server has stopped: the output is the same byte for byte.
func TestE2E_Dump_ThroughServer(t *testing.T) {
	c := startChatting(t)
	if len(c.ids) != 7 {
		t.Fatalf("events %v, want 7", c.ids)
	}
	argSets := [][]string{
		nil,
		{"-format", "text"},
		{"-chat", "team"},
		{"-chat", "side", "-format", "text"},
		{"-user", "bob"},
		{"-user", "carl", "-format", "text"},
		{"-type", "UserRegistered"},
		{"-type", "UserRegistered", "-format", "text"},
		{"-since", c.ids[3]},
		{"-limit", "2"},
		{"-user", "ann", "-since", c.ids[0], "-limit", "3", "-format", "text"},
		{"-chat", "team", "-since", c.ids[4]}, // nothing, but the chat exists
	}
	live := make([]string, len(argSets))
	for i, args := range argSets {
		out, stderr, err := runBinary(context.Background(), append([]string{"events", "dump", "-data", c.data}, args...)...)
		if err != nil {
			t.Fatalf("dump %v of a running server: %v: %s", args, err, stderr)
		}
		if strings.Contains(out, "secret") || strings.Contains(out, "argon2") {
			t.Fatalf("dump %v shows a password hash:\n%s", args, out)
		}
		live[i] = out
	}
	if got := strings.Count(live[0], "\n"); got != 7 {
		t.Fatalf("dump of the running server has %d lines, want 7:\n%s", got, live[0])
	}
	if code, _ := httpGet(t, "http://"+c.p.addr+"/events"); code != http.StatusNotFound {
		t.Errorf("public /events: %d, want 404", code)
	}
	if !strings.Contains(c.p.log(), `msg="events stream ended"`) {
		t.Fatalf("the server's log shows no events stream:\n%s", c.p.log())
	}
	if err := c.p.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, args := range argSets {
		out, stderr, err := runBinary(context.Background(), append([]string{"events", "dump", "-data", c.data}, args...)...)
		if err != nil {
			t.Fatalf("dump %v of the file: %v: %s", args, err, stderr)
		}
		if out != live[i] {
			t.Errorf("dump %v: through the server\n%s\nfrom the file\n%s", args, live[i], out)
		}
	}
}

// TestE2E_Dump_UnknownNames: through a running server, a --chat or --user
// that names nothing says so in one line and exits 1, --follow included.
func TestE2E_Dump_UnknownNames(t *testing.T) {
	c := startChatting(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-chat", "nope"}, `no chat "nope" in the log`},
		{[]string{"-chat", "nope", "-since", c.ids[4]}, `no chat "nope" in the log`},
		{[]string{"-user", "dave"}, `no user "dave" in the log`},
		{[]string{"-chat", "nope", "-follow"}, `no chat "nope" in the log`},
		{[]string{"-user", "dave", "-follow", "-format", "text"}, `no user "dave" in the log`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		out, stderr, err := runBinary(ctx, append([]string{"events", "dump", "-data", c.data}, tt.args...)...)
		cancel()
		if code := exitStatus(err); code != 1 || out != "" || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d (%v), stdout %q, stderr %q; want 1 and one line with %q", tt.args, code, err, out, stderr, tt.want)
		}
	}
}

// follower is a running `events dump -follow`.
type follower struct {
	cmd    *exec.Cmd
	lines  chan string // closed when stdout ends
	mu     sync.Mutex
	stderr strings.Builder
	exited chan struct{}
	err    error // set when exited is closed
}

func startFollower(t *testing.T, args ...string) *follower {
	t.Helper()
	f := &follower{lines: make(chan string, 1000), exited: make(chan struct{})}
	f.cmd = exec.Command(binary, append([]string{"events", "dump", "-follow"}, args...)...)
	f.cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.stderr.Write(p)
	})
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
		f.err = f.cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		_ = f.cmd.Process.Kill()
		<-f.exited
	})
	return f
}

type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func (f *follower) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stderr.String()
}

// expect reads the next lines and checks that they show ids, in order.
func (f *follower) expect(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		select {
		case line, ok := <-f.lines:
			if !ok {
				t.Fatalf("the follower ended before %s: %s", id, f.log())
			}
			if got := lineID(t, line); got != id {
				t.Fatalf("the follower printed %s, want %s: %s", got, id, line)
			}
		case <-time.After(e2eWait):
			t.Fatalf("the follower did not print %s within %v", id, e2eWait)
		}
	}
}

// wait waits for the follower's exit, and checks that it printed nothing
// more and exited 0.
func (f *follower) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-f.exited:
	case <-time.After(within):
		t.Fatalf("the follower did not exit within %v", within)
	}
	if line, ok := <-f.lines; ok {
		t.Errorf("the follower printed more: %s", line)
	}
	if f.err != nil {
		t.Fatalf("the follower exited with %v: %s", f.err, f.log())
	}
}

// TestE2E_Dump_Follow follows a running server's log: the history, then
// each event as it is committed, in order and filtered; SIGINT ends it at
// once, and so does the server's stop, after the server's last event.
func TestE2E_Dump_Follow(t *testing.T) {
	c := startChatting(t)
	all := startFollower(t, "-data", c.data, "-format", "text")
	team := startFollower(t, "-data", c.data, "-chat", "team")
	fromBob := startFollower(t, "-data", c.data, "-user", "bob", "-since", c.ids[3])
	all.expect(t, c.ids...)
	team.expect(t, c.ids[3], c.ids[4])
	fromBob.expect(t, c.ids[4])

	var later []string
	for i := range 5 {
		later = append(later,
			ack(t, c.bob, map[string]any{"type": "GroupMessageRequest", "chatname": "team", "content": "more " + string(rune('a'+i))}),
			ack(t, c.cal, map[string]any{"type": "GroupMessageRequest", "chatname": "side", "content": "aside"}),
		)
	}
	all.expect(t, later...)
	for i := 0; i < len(later); i += 2 {
		team.expect(t, later[i])
		fromBob.expect(t, later[i])
	}

	if err := all.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	all.wait(t, 5*time.Second)

	last := ack(t, c.bob, map[string]any{"type": "GroupMessageRequest", "chatname": "team", "content": "bye"})
	if err := c.p.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*follower{team, fromBob} {
		f.expect(t, last)
		f.wait(t, e2eWait)
		if !strings.Contains(f.log(), "stopped; every event it stored is printed") {
			t.Errorf("the follower's stderr after the server stopped: %q", f.log())
		}
	}
}

// TestE2E_Dump_StalledFollower: a follower that does not read, behind by
// more than the sockets hold from its start, delays no acknowledgement,
// and the server still stops well within its grace period.
func TestE2E_Dump_StalledFollower(t *testing.T) {
	c := startChatting(t, "-rate-limit", "0")
	// Messages of 8 KB, 250 of them before the follower comes and 250
	// after: far more than the sockets' buffers hold. To dave, who is
	// offline: a member who does not read would hold the stop back.
	dave := c.p.dial(t)
	ack(t, dave, map[string]any{"type": "RegisterRequest", "username": "dave"})
	dave.Close()
	const n, size = 250, 8000
	content := strings.Repeat("x", size)
	post := func() {
		for range n {
			ack(t, c.bob, map[string]any{"type": "SingleMessageRequest", "recipient": "dave", "content": content}) // each within e2eWait
		}
	}
	post()
	conn := dialStalled(t, "unix", c.p.admin)
	post()
	start := time.Now()
	if err := c.p.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > shutdownGrace-2*time.Second {
		t.Fatalf("the server took %v to stop beside a stalled follower (grace %v)", took, shutdownGrace)
	}
	// The follower got less than the messages: it was indeed behind.
	_ = conn.SetReadDeadline(time.Now().Add(e2eWait))
	if got, _ := io.ReadAll(conn); len(got) >= 2*n*size {
		t.Errorf("the follower that did not read got all %d bytes: it was never stalled", len(got))
	}
}

// TestE2E_Dump_AdminAddr: a server whose admin listener is on TCP is read
// with the same -admin-addr; without it, the error says to give it.
func TestE2E_Dump_AdminAddr(t *testing.T) {
	c := startChatting(t, "-admin-addr", "127.0.0.1:0")
	out, stderr, err := runBinary(context.Background(), "events", "dump", "-data", c.data, "-admin-addr", c.p.admin, "-chat", "team")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("dump -admin-addr: %v %q %s", err, out, stderr)
	}
	for _, args := range [][]string{{}, {"-follow"}} {
		start := time.Now()
		out, stderr, err = runBinary(context.Background(), append([]string{"events", "dump", "-data", c.data}, args...)...)
		if exitStatus(err) != 1 || out != "" || !strings.Contains(stderr, "-admin-addr") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("dump %v without -admin-addr: %v, stdout %q, stderr %q", args, err, out, stderr)
		}
		if took := time.Since(start); took > lockRefusal {
			t.Errorf("dump %v without -admin-addr took %v", args, took)
		}
	}
}
