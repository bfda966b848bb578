package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	return get(t, &http.Client{Timeout: e2eWait}, url)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// adminGet gets path from p's admin listener, a unix socket or TCP.
func (p *process) adminGet(t *testing.T, path string) (int, string) {
	t.Helper()
	if !filepath.IsAbs(p.admin) {
		return httpGet(t, "http://"+p.admin+path)
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", p.admin)
	}
	c := &http.Client{Timeout: e2eWait, Transport: &http.Transport{DialContext: dial}}
	defer c.CloseIdleConnections()
	return get(t, c, "http://chateau-admin"+path)
}

// TestE2E_Listeners checks which endpoints each listener answers: the
// public one nothing that exposes the data file or the internals.
func TestE2E_Listeners(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"))
	base := "http://" + p.addr
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := httpGet(t, base+path); code != http.StatusOK {
			t.Fatalf("public %s: %d", path, code)
		}
		if code, _ := p.adminGet(t, path); code != http.StatusOK {
			t.Fatalf("admin %s: %d", path, code)
		}
	}
	for _, path := range []string{"/backup", "/metrics"} {
		if code, body := httpGet(t, base+path); code != http.StatusNotFound {
			t.Errorf("public %s: %d %.40q, want 404", path, code, body)
		}
	}
	if code, body := httpGet(t, base+"/"); code != http.StatusOK || !strings.Contains(body, "Chateau") {
		t.Fatalf("/: %d %q", code, body)
	}
	ws := p.dial(t)
	call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"})
	call(t, ws, map[string]any{"type": "ClientListRequest"})
	_, metrics := p.adminGet(t, "/metrics")
	for _, want := range []string{
		"chateau_connections 1",
		"chateau_users_online 1",
		`chateau_requests_total{status="200",type="RegisterRequest"} 1`,
		`chateau_requests_total{status="200",type="ClientListRequest"} 1`,
		"chateau_events_appended_total 1",
		"chateau_commit_batch_events_bucket",
		"chateau_commit_duration_seconds_bucket",
		`chateau_request_duration_seconds_count{type="ClientListRequest"} 1`,
		`chateau_request_duration_seconds_count{type="RegisterRequest"} 1`,
		"chateau_deliveries_total 0",
		"chateau_slow_client_disconnects_total 0",
		"chateau_startup_replay_seconds",
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestE2E_Backup copies a running server's log through its admin socket,
// found from -data alone, and a stopped server's from the file.
func TestE2E_Backup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chateau.db")
	p := startServe(t, data)
	if p.admin != data+".sock" {
		t.Fatalf("admin listener %q, want the socket %q", p.admin, data+".sock")
	}
	if info, err := os.Lstat(p.admin); err != nil || info.Mode() != os.ModeSocket|0o600 {
		t.Fatalf("admin socket: %v, %v; want a socket of mode 0600", info.Mode(), err)
	}
	ws := p.dial(t)
	call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"})
	call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"}) // 302, not stored

	live := filepath.Join(dir, "live.db")
	out, stderr, err := runBinary(context.Background(), "backup", "-out", live, "-data", data)
	if err != nil || !strings.Contains(out, "through the server at "+p.admin) {
		t.Fatalf("backup of a running server: %v %s %s", err, out, stderr)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p.admin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket after SIGTERM: %v, want it removed", err)
	}
	stopped := filepath.Join(dir, "stopped.db")
	out, stderr, err = runBinary(context.Background(), "backup", "-out", stopped, "-data", data)
	if err != nil || !strings.Contains(out, "from "+data) {
		t.Fatalf("backup of a stopped server: %v %s %s", err, out, stderr)
	}
	want := mustDump(t, data)
	if strings.Count(want, "\n") != 1 || !strings.Contains(want, `"username":"ann"`) {
		t.Fatalf("dump of %s:\n%s", data, want)
	}
	for _, copy := range []string{live, stopped} {
		if got := mustDump(t, copy); got != want {
			t.Errorf("dump of %s:\n%s\nwant\n%s", copy, got, want)
		}
	}
	if _, _, err := runBinary(context.Background(), "backup", "-data", data); err == nil {
		t.Fatal("backup without -out succeeded")
	}
}

// mustDump returns `events dump` of the data file.
func mustDump(t *testing.T, data string) string {
	t.Helper()
	out, stderr, err := runBinary(context.Background(), "events", "dump", "-data", data)
	if err != nil {
		t.Fatalf("dump of %s: %v: %s", data, err, stderr)
	}
	return out
}

// TestE2E_AdminSocket_Leftover starts a server where something already is
// at the admin socket's path: a socket left by a server that died is
// replaced; a file that is no socket, or a socket that answers, stop the
// start with one line, untouched.
func TestE2E_AdminSocket_Leftover(t *testing.T) {
	tests := []struct {
		name  string
		place func(t *testing.T, path string) // puts something at path
		want  string                          // in the error; "" starts
	}{
		{"stale socket", func(t *testing.T, path string) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			ln.(*net.UnixListener).SetUnlinkOnClose(false)
			ln.Close()
		}, ""},
		{"not a socket", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("mine"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is not a socket"},
		{"answering socket", func(t *testing.T, path string) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for conn, err := ln.Accept(); err == nil; conn, err = ln.Accept() {
					conn.Close()
				}
			}()
		}, "a server answers on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "chateau.db")
			tt.place(t, data+".sock")
			before, err := os.Lstat(data + ".sock")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				p := startServe(t, data)
				if code, _ := p.adminGet(t, "/healthz"); code != http.StatusOK {
					t.Fatalf("admin /healthz: %d", code)
				}
				return
			}
			_, stderr, err := runBinary(context.Background(), "serve", "-addr", "127.0.0.1:0", "-data", data)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; err == nil || !strings.HasPrefix(last, "chateau: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("serve: %v, stderr %q; want a last line with %q", err, stderr, tt.want)
			}
			if after, err := os.Lstat(data + ".sock"); err != nil || !os.SameFile(before, after) {
				t.Errorf("what was at the socket's path was changed: %v", err)
			}
		})
	}
}

// TestE2E_AdminAddr serves the admin listener on TCP: no socket, and backup
// finds the server with the same -admin-addr, and says so without it.
func TestE2E_AdminAddr(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chateau.db")
	p := startServe(t, data, "-admin-addr", "127.0.0.1:0")
	if _, err := os.Lstat(data + ".sock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a socket beside the data file with -admin-addr: %v", err)
	}
	if code, body := p.adminGet(t, "/metrics"); code != http.StatusOK || !strings.Contains(body, "chateau_connections") {
		t.Fatalf("admin /metrics on %s: %d", p.admin, code)
	}
	out, stderr, err := runBinary(context.Background(), "backup", "-out", filepath.Join(dir, "copy.db"), "-data", data, "-admin-addr", p.admin)
	if err != nil || !strings.Contains(out, "through the server at "+p.admin) {
		t.Fatalf("backup -admin-addr %s: %v %s %s", p.admin, err, out, stderr)
	}
	_, stderr, err = runBinary(context.Background(), "backup", "-out", filepath.Join(dir, "lost.db"), "-data", data)
	if err == nil || !strings.Contains(stderr, "-admin-addr") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("backup of a server on TCP without -admin-addr: %v, stderr %q", err, stderr)
	}
}

func TestE2E_Client(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"))
	cmd := exec.Command(binary, "client", "-url", "ws://"+p.addr+"/ws")
	cmd.Stdin = strings.NewReader(`{"type":"RegisterRequest","username":"ann","messageID":1}` + "\n" +
		"not json\n" + `{"type":"ClientListRequest"}` + "\n")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("client: %v: %s", err, errOut.String())
	}
	// The line that is not JSON goes to the server as it is, which
	// answers it with 400.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []struct {
		typ    string
		status float64
	}{{"RegisterResponse", 200}, {"ErrorResponse", 400}, {"ClientListResponse", 200}}
	if len(lines) != len(want) {
		t.Fatalf("client printed %q", out.String())
	}
	for i, w := range want {
		var frame map[string]any
		if json.Unmarshal([]byte(lines[i]), &frame) != nil || frame["type"] != w.typ || frame["status"] != w.status {
			t.Fatalf("client printed %q; want line %d a %s %v", out.String(), i+1, w.typ, w.status)
		}
	}
	if errOut.Len() != 0 {
		t.Fatalf("stderr %q", errOut.String())
	}
}

func TestE2E_EnvAndLogFormat(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "CHATEAU_DATA="+filepath.Join(dir, "env.db"), "CHATEAU_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	dec := json.NewDecoder(stderr)
	deadline := time.Now().Add(e2eWait)
	for time.Now().Before(deadline) {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		if line["msg"] == "listening" {
			if line["data"] != filepath.Join(dir, "env.db") {
				t.Fatalf("CHATEAU_DATA ignored: %v", line)
			}
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	bad := exec.Command(binary, "serve")
	bad.Env = append(os.Environ(), "CHATEAU_RATE_LIMIT=fast")
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CHATEAU_RATE_LIMIT") || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("bad env value: %v %q", err, out)
	}
}
