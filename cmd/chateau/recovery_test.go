package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2E_DataFileDeleted deletes the data file under a running server:
// writes get 500 and store nothing, /readyz turns 503 on both listeners,
// the server logs it, and `chateau backup` through the admin socket (which
// was not deleted) rescues every acknowledged event; a server started on
// the rescued copy goes on.
func TestE2E_DataFileDeleted(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chateau.db")
	p := startServe(t, data)
	ann, bob := p.dial(t), p.dial(t)
	call(t, ann, map[string]any{"type": "RegisterRequest", "username": "ann"})
	call(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob"})
	var acked []string
	m := call(t, ann, map[string]any{"type": "GroupMessageInitRequest", "chatname": "duo", "recipients": []string{"bob"}, "content": "one"})
	acked = append(acked, m["id"].(string))
	read(t, bob)
	m = call(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "two"})
	acked = append(acked, m["id"].(string))
	read(t, ann)

	if err := os.Remove(data); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // pipelined: one batch or several, each refused
		if err := ann.WriteJSON(map[string]any{"type": "GroupMessageRequest", "chatname": "duo", "content": "lost", "messageID": i}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if m := read(t, ann); m["status"] != float64(http.StatusInternalServerError) {
			t.Fatalf("a write after the data file was deleted: %v, want 500", m)
		}
	}
	if code, body := httpGet(t, "http://"+p.addr+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "deleted") {
		t.Errorf("public /readyz: %d %q, want 503", code, body)
	}
	if code, _ := p.adminGet(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("admin /readyz: %d, want 503", code)
	}

	// A second server on the path would start an empty log there.
	_, stderr, err := runBinary(context.Background(), "serve", "-addr", "127.0.0.1:0", "-data", data)
	if err == nil || !strings.Contains(stderr, "a server answers on") {
		t.Errorf("a second server on the deleted file's path: %v, stderr %q", err, stderr)
	}
	if _, err := os.Lstat(data); !os.IsNotExist(err) {
		t.Errorf("a second server created a data file: %v", err)
	}

	rescued := filepath.Join(dir, "rescued.db")
	out, stderr, err := runBinary(context.Background(), "backup", "-data", data, "-out", rescued)
	if err != nil || !strings.Contains(out, "through the server at "+p.admin) {
		t.Fatalf("backup of the deleted file: %v %s %s", err, out, stderr)
	}
	if got := messageIDs(t, mustDump(t, rescued)); !slices.Equal(got, acked) {
		t.Errorf("rescued messages %v, want the acknowledged %v", got, acked)
	}

	waitForLog(t, p, "data file gone")
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	logged := p.log()
	if !strings.Contains(logged, `level=ERROR msg="append failed"`) || !strings.Contains(logged, "no longer names the open file") {
		t.Errorf("the server did not log the failed append at error level:\n%s", logged)
	}
	if n := strings.Count(logged, `level=ERROR msg="data file gone`); n != 1 {
		t.Errorf("the watcher logged %d errors, want 1:\n%s", n, logged)
	}

	// The README's recovery: the rescued copy in place of the file.
	if err := os.Rename(rescued, data); err != nil {
		t.Fatal(err)
	}
	p = startServe(t, data)
	ann = p.dial(t)
	call(t, ann, map[string]any{"type": "RegisterRequest", "username": "ann"})
	if m := call(t, ann, map[string]any{"type": "GroupMessageRequest", "chatname": "duo", "content": "three"}); m["status"] != float64(http.StatusOK) {
		t.Fatalf("a write on the rescued copy: %v", m)
	}
}

// messageIDs returns the ids of the message events in an `events dump`.
func messageIDs(t *testing.T, dump string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		var e struct{ ID, Type string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		if e.Type != "UserRegistered" {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// waitForLog waits until p has logged a line containing s.
func waitForLog(t *testing.T, p *process, s string) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !strings.Contains(p.log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q within %v:\n%s", s, e2eWait, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
