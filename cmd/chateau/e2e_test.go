package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// binary is the chateau binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chateau-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chateau")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build chateau:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// e2eWait bounds each wait on the real binary.
const e2eWait = 10 * time.Second

// process is a running `chateau serve`.
type process struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string // the public listener
	admin  string // the admin listener: a socket's path or a TCP address
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	err    error // set when exited is closed
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+) admin=(\S+)`)

// startServe starts the binary on data and waits until it listens.
func startServe(t testing.TB, data string, args ...string) *process {
	t.Helper()
	p := &process{t: t, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"serve", "-addr", "127.0.0.1:0", "-data", data}, args...)...)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1:]
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	select {
	case a := <-addrs:
		p.addr, p.admin = a[0], a[1]
	case <-p.exited:
		t.Fatalf("server exited: %v\n%s", p.err, p.log())
	case <-time.After(e2eWait):
		t.Fatalf("server did not listen within %v\n%s", e2eWait, p.log())
	}
	return p
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends sig and waits for the exit.
func (p *process) stop(sig os.Signal) error {
	p.t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(e2eWait):
		p.t.Fatalf("server did not exit within %v after %v", e2eWait, sig)
		return nil
	}
}

func (p *process) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func call(t *testing.T, ws *websocket.Conn, req map[string]any) map[string]any {
	t.Helper()
	if err := ws.WriteJSON(req); err != nil {
		t.Fatal(err)
	}
	return read(t, ws)
}

// readClose reads until the server's close frame and returns the error
// that reports it. Frames before it may only be PresenceChanged (users
// going offline as the server shuts down).
func readClose(ws *websocket.Conn) error {
	_ = ws.SetReadDeadline(time.Now().Add(e2eWait))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil || !bytes.Contains(b, []byte(`"type":"PresenceChanged"`)) {
			return err
		}
	}
}

// read returns the next frame but PresenceChanged, which the tests that
// read through it do not look at.
func read(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(e2eWait))
	for {
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		if m["type"] != "PresenceChanged" {
			return m
		}
	}
}

func runBinary(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// lockRefusal bounds how long a command takes to refuse a file a server
// holds: the 1 s lock wait and a process start, which took over 3 s on this
// 2-core machine under a load of 11; far less than waiting for the server.
const lockRefusal = 10 * time.Second

func TestE2E_ServeDumpRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "chateau.db")
	p := startServe(t, data)
	ann, bob := p.dial(t), p.dial(t)
	if m := call(t, ann, map[string]any{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(200) {
		t.Fatal(m)
	}
	if m := call(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob"}); m["status"] != float64(200) {
		t.Fatal(m)
	}
	ack := call(t, ann, map[string]any{"type": "GroupMessageInitRequest", "chatname": "duo", "recipients": []string{"bob"}, "content": "hello bob"})
	if ack["status"] != float64(200) {
		t.Fatal(ack)
	}
	if m := read(t, bob); m["id"] != ack["id"] {
		t.Fatalf("bob got %v", m)
	}

	// The file is locked by the server: migrate says so after the lock
	// wait (1 s) instead of waiting for the file (dump reads through the
	// server, see dump_e2e_test.go).
	start := time.Now()
	_, stderr, err := runBinary(context.Background(), "migrate", "-data", data)
	if err == nil || !strings.Contains(stderr, "locked") || !strings.Contains(stderr, "Stop it") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("migrate on a held file: err %v, stderr %q", err, stderr)
	}
	if d := time.Since(start); d > lockRefusal {
		t.Fatalf("migrate on a held file took %v", d)
	}
	// So does a second server.
	start = time.Now()
	_, stderr, err = runBinary(context.Background(), "serve", "-addr", "127.0.0.1:0", "-data", data)
	if err == nil || !strings.Contains(stderr, "locked") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("second serve on a held file: err %v, stderr %q", err, stderr)
	}
	if d := time.Since(start); d > lockRefusal {
		t.Fatalf("second serve on a held file took %v", d)
	}

	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
	}
	for _, ws := range []*websocket.Conn{ann, bob} {
		err := readClose(ws)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("after SIGTERM: %v, want close 1001", err)
		}
	}

	out, _, err := runBinary(context.Background(), "events", "dump", "-data", data, "-format", "text")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, ack["id"].(string)) || !strings.Contains(out, `"hello bob"`) {
		t.Fatalf("dump lacks the message %v:\n%s", ack["id"], out)
	}

	// A new server on the same file knows the chat.
	p = startServe(t, data)
	bob = p.dial(t)
	call(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob"})
	if m := call(t, bob, map[string]any{"type": "GroupMessageRequest", "chatname": "duo", "content": "back"}); m["status"] != float64(200) {
		t.Fatalf("post after restart: %v", m)
	}
	if err := p.stop(os.Interrupt); err != nil {
		t.Fatalf("exit after SIGINT: %v", err)
	}
}

// TestE2E_PreviousRelease opens testdata/v1.db, a file written by the first
// release (schema 1: three users, ann with a password, chat "team" with two
// messages, a direct message from ann to carl), upgrades it if needed, and
// uses its history.
func TestE2E_PreviousRelease(t *testing.T) {
	data := filepath.Join(t.TempDir(), "v1.db")
	old, err := os.ReadFile("testdata/v1.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, old, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runBinary(context.Background(), "migrate", "-data", data)
	if err != nil || !strings.Contains(out, "schema version") {
		t.Fatalf("migrate: %v: %s", err, out)
	}
	out, _, err = runBinary(context.Background(), "events", "dump", "-data", data)
	if err != nil || strings.Count(out, "\n") != 6 {
		t.Fatalf("dump: %v:\n%s", err, out)
	}

	p := startServe(t, data)
	bob := p.dial(t)
	call(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob"})
	m := call(t, bob, map[string]any{"type": "HistoryRequest", "chatname": "team"})
	msgs, _ := m["messages"].([]any)
	if len(msgs) != 2 || msgs[0].(map[string]any)["content"] != "hello team" || msgs[1].(map[string]any)["content"] != "hi ann" {
		t.Fatalf("history of team: %v", m)
	}
	carl := p.dial(t)
	call(t, carl, map[string]any{"type": "RegisterRequest", "username": "carl", "since": "00000000000000000000000000"})
	if m := read(t, carl); m["content"] != "psst" || m["replay"] != true {
		t.Fatalf("carl's replay: %v", m)
	}
	if m := read(t, carl); m["type"] != "ReplayComplete" || m["count"] != float64(1) {
		t.Fatalf("carl's replay end: %v", m)
	}
	ann := p.dial(t)
	if m := call(t, ann, map[string]any{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(401) {
		t.Fatalf("ann is protected: %v", m)
	}
}
