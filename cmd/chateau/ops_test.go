package main

import (
	"context"
	"encoding/json"
	"io"
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
	c := http.Client{Timeout: e2eWait}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestE2E_HealthAndMetrics(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"))
	base := "http://" + p.addr
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := httpGet(t, base+path); code != http.StatusOK {
			t.Fatalf("%s: %d", path, code)
		}
	}
	if code, body := httpGet(t, base+"/"); code != http.StatusOK || !strings.Contains(body, "Chateau") {
		t.Fatalf("/: %d %q", code, body)
	}
	ws := p.dial(t)
	call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"})
	call(t, ws, map[string]any{"type": "ClientListRequest"})
	_, metrics := httpGet(t, base+"/metrics")
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

func TestE2E_Backup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chateau.db")
	p := startServe(t, data)
	ws := p.dial(t)
	call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"})
	call(t, ws, map[string]any{"type": "RegisterRequest", "username": "ann"}) // 302, not stored

	live := filepath.Join(dir, "live.db")
	out, stderr, err := runBinary(context.Background(), "backup", "-out", live, "-addr", p.addr, "-data", data)
	if err != nil || !strings.Contains(out, "through the server") {
		t.Fatalf("backup of a running server: %v %s %s", err, out, stderr)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := filepath.Join(dir, "stopped.db")
	out, stderr, err = runBinary(context.Background(), "backup", "-out", stopped, "-addr", p.addr, "-data", data)
	if err != nil || !strings.Contains(out, "from "+data) {
		t.Fatalf("backup of a stopped server: %v %s %s", err, out, stderr)
	}
	for _, copy := range []string{live, stopped} {
		out, _, err := runBinary(context.Background(), "events", "dump", "-data", copy)
		if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"username":"ann"`) {
			t.Fatalf("dump of %s: %v\n%s", copy, err, out)
		}
	}
	if _, _, err := runBinary(context.Background(), "backup", "-addr", p.addr); err == nil {
		t.Fatal("backup without -out succeeded")
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
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("client printed %q", out.String())
	}
	var first, second map[string]any
	if json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil ||
		first["type"] != "RegisterResponse" || second["type"] != "ClientListResponse" {
		t.Fatalf("client printed %q", out.String())
	}
	if !strings.Contains(errOut.String(), "not JSON") {
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
