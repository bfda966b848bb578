package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
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
	cfg, err := parseServeConfig([]string{"-data", data, "-addr", "127.0.0.1:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	s, err := startServer(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.serveUntil(ctx) }()

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.public.ln.Addr().String()+"/ws", nil)
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
		_ = ws.SetReadDeadline(time.Now().Add(e2eWait))
		_, _, err := ws.ReadMessage()
		closed <- err
	}()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serveUntil = %v", err)
		}
	case <-time.After(e2eWait):
		t.Fatalf("the server did not stop within %v", e2eWait)
	}
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("at shutdown the client read %v, want close 1001", err)
	}
	if n := logs.count("msg=stopped"); n != 1 {
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
