package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
)

// TestServe_Usage pins serve's flags, which are a contract: their names,
// environment variables, defaults and help, as `serve -h` prints them.
// After a deliberate change, regenerate testdata/serve-usage.txt with
// `go run ./cmd/chateau serve -h` and update the README (Command line,
// Security and limits) in the same commit.
func TestServe_Usage(t *testing.T) {
	out, _, err := runMain(t, "serve", "-h")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "serve-usage.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("serve -h printed\n%s\nwant\n%s", out, want)
	}
}

// TestServe_BadFlags checks that each bad value is a one-line usage error
// given before anything is opened or created.
func TestServe_BadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-rate-limit", "-1"}, "-rate-limit must not be negative"},
		{[]string{"-rate-limit", "5", "-rate-burst", "0"}, "-rate-burst must be at least 1"},
		{[]string{"-max-conns", "-1"}, "-max-conns must not be negative"},
		{[]string{"-max-frame-bytes", "1023"}, "-max-frame-bytes must be at least 1024"},
		{[]string{"-max-content-bytes", "0"}, "-max-content-bytes must be between 1 and -max-frame-bytes"},
		{[]string{"-max-frame-bytes", "2048", "-max-content-bytes", "2049"}, "-max-content-bytes must be between 1 and -max-frame-bytes"},
		{[]string{"-send-queue", "0"}, "-send-queue must be at least 1"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"-log-format", "xml"}, "-log-format must be text or json"},
		{[]string{"-trusted-proxies", "10.0.0.0/8,proxy.local"}, `-trusted-proxies: "proxy.local" is neither an IP address nor a CIDR prefix`},
		{[]string{"-tls-cert", "chateau.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-key", "chateau.key"}, "-tls-cert and -tls-key go together"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "chateau.db")
			_, _, err := runMain(t, append([]string{"serve", "-addr", "127.0.0.1:0", "-data", data}, tt.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a usage error containing %q", err, tt.want)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data file was created (stat: %v)", err)
			}
		})
	}
}

// TestServe_InProcess starts a server in this process on a new data file
// and a free port, registers a user over a WebSocket, and stops it by
// ending its context: the connection is closed, the admin socket removed,
// and the data file, closed, opens again with the registration in it.
func TestServe_InProcess(t *testing.T) {
	data := filepath.Join(t.TempDir(), "chateau.db")
	p := startInProcess(t, "-data", data)

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr()+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	if m := call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"}); m["type"] != "RegisterResponse" || m["status"] != float64(200) {
		t.Fatalf("register: %v", m)
	}

	// Reading answers the server's close frame, which it waits for.
	closed := make(chan error, 1)
	go func() {
		closed <- readClose(ws)
	}()
	p.stop()
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("at shutdown the client read %v, want close 1001", err)
	}
	if n := p.logs.count("msg=stopped"); n != 1 {
		t.Errorf("the log says stopped %d times, want once", n)
	}
	if _, err := os.Lstat(adminSocketPath(data)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left behind (lstat: %v)", err)
	}

	l, _, err := eventlog.Open(data, eventlog.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("reopen the data file: %v", err)
	}
	defer l.Close()
	var users []string
	err = l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		e, err := projection.Decode(rec.ID, rec.Data)
		if u, ok := e.Payload.(projection.UserRegistered); ok {
			users = append(users, u.Username)
		}
		return err
	})
	if err != nil || len(users) != 1 || users[0] != "ann" {
		t.Errorf("registrations in the file: %v (%v), want [ann]", users, err)
	}
}

// inProcess is a server started in this process by startInProcess.
type inProcess struct {
	t      *testing.T
	s      *server
	logs   *lockedBuffer
	cancel context.CancelFunc
	hup    chan os.Signal // serveUntil's reload
	served chan error     // serveUntil's result
}

// startInProcess starts `chateau serve` with args on a free port of
// loopback in this process. The test's end stops it, if stop has not.
func startInProcess(t *testing.T, args ...string) *inProcess {
	t.Helper()
	cfg, err := parseServeConfig(append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := &inProcess{t: t, logs: &lockedBuffer{}, hup: make(chan os.Signal), served: make(chan error, 1)}
	p.s, err = startServer(cfg, slog.New(slog.NewTextHandler(p.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.served <- p.s.serveUntil(ctx, p.hup) }()
	t.Cleanup(p.stop)
	return p
}

// addr is the public listener's address.
func (p *inProcess) addr() string { return p.s.public.ln.Addr().String() }

// stop ends the server's context and waits for serveUntil, which must
// return nil; it may be called more than once.
func (p *inProcess) stop() {
	p.t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.served:
		if err != nil {
			p.t.Fatalf("serveUntil = %v", err)
		}
	case <-time.After(e2eWait):
		p.t.Fatalf("the server did not stop within %v", e2eWait)
	}
}

// awaitLog waits until the server has logged s n times.
func (p *inProcess) awaitLog(s string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for p.logs.count(s) < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("the server did not log %q %d times within %v", s, n, e2eWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServe_TrustedProxies: a connection from a trusted proxy is logged
// with the client its X-Forwarded-For names; without the flag, with the
// TCP peer whatever the header says.
func TestServe_TrustedProxies(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprint("trusted=", trusted), func(t *testing.T) {
			args := []string{"-data", filepath.Join(t.TempDir(), "chateau.db")}
			if trusted {
				args = append(args, "-trusted-proxies", "192.0.2.0/24,127.0.0.1")
			}
			p := startInProcess(t, args...)
			h := http.Header{"X-Forwarded-For": {"198.51.100.7, 192.0.2.1"}}
			ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr()+"/ws", h)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			want := "remote=" + ws.LocalAddr().String()
			if trusted {
				want = "remote=198.51.100.7 proxy=" + ws.LocalAddr().String()
			}
			p.awaitLog(`msg="connection opened" conn=1 `+want+"\n", 1)
		})
	}
}

// TestReplay_LogsEverySecond replays 300,000 events with a clock that
// advances by a step each time it is read: the replay reads it at the
// start, at each 100,000 events and at the end, and logs how far it has got
// once a second of that clock has passed since its start or its last line.
func TestReplay_LogsEverySecond(t *testing.T) {
	data := filepath.Join(t.TempDir(), "chateau.db")
	writeMillion(t, data, 10, 1, 300_000)
	l, _, err := eventlog.Open(data, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		step time.Duration
		want []string // events and elapsed time of each progress line
	}{
		{time.Second, []string{"100000 at 1s", "200000 at 2s", "300000 at 3s"}},
		{600 * time.Millisecond, []string{"200000 at 1.2s"}},
		{300 * time.Millisecond, nil},
	}
	progress := regexp.MustCompile(`msg="replaying log" events=(\d+) elapsed=(\S+)`)
	for _, tt := range tests {
		t.Run(tt.step.String(), func(t *testing.T) {
			var clock time.Time
			now := func() time.Time {
				clock = clock.Add(tt.step)
				return clock
			}
			var logs strings.Builder
			if _, err := replay(l, slog.New(slog.NewTextHandler(&logs, nil)), chat.NewMetrics(nil), now); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range progress.FindAllStringSubmatch(logs.String(), -1) {
				got = append(got, m[1]+" at "+m[2])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("progress lines %q, want %q\n%s", got, tt.want, logs.String())
			}
			if !strings.Contains(logs.String(), `msg="projections rebuilt" events=300000`) {
				t.Errorf("no result line:\n%s", logs.String())
			}
		})
	}
}

// TestServe_RemovesStagedBackups: a copy that a server left beside the
// data file when it died while sending a backup is removed at the next
// start; other files are not.
func TestServe_RemovesStagedBackups(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chateau.db")
	stale := filepath.Join(dir, stagedPrefix(data)+"123")
	other := filepath.Join(dir, ".other.db.backup-123")
	for _, name := range []string{stale, other} {
		mustWriteFile("a copy")(t, name)
	}
	p := startInProcess(t, "-data", data)
	p.stop()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale copy still there (stat: %v)", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's copy was touched: %v", err)
	}
}
