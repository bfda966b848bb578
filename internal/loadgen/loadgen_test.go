package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestMessageRoundTrip checks that a request written by appendMessage is
// valid JSON of the right size whose content parseContent reads back.
func TestMessageRoundTrip(t *testing.T) {
	at := time.Unix(1_700_000_000, 123456789)
	for _, size := range []int{1, 30, 64, 1000} {
		var req struct {
			Type, Chatname, Content string
			MessageID               uint64
		}
		b := appendMessage(nil, "bench-ab-3", 42, at, size)
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("size %d: %v: %s", size, err, b)
		}
		if req.Type != "GroupMessageRequest" || req.Chatname != "bench-ab-3" || req.MessageID != 42 {
			t.Errorf("size %d: %+v", size, req)
		}
		if len(req.Content) < size || (size >= 30 && len(req.Content) != size) {
			t.Errorf("size %d: content %d bytes", size, len(req.Content))
		}
		sent, seq, ok := parseContent([]byte(req.Content))
		if !ok || seq != 42 || !sent.Equal(at) {
			t.Errorf("size %d: parsed %v %d %v", size, sent, seq, ok)
		}
	}
	for _, bad := range []string{"", "bench", "1 2", "x 2 ", "1 x ", "1 0 "} {
		if _, _, ok := parseContent([]byte(bad)); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

// TestRunRefusesNames checks that a run prefix that would need escaping in
// JSON is refused before anything is dialled.
func TestRunRefusesNames(t *testing.T) {
	for _, run := range []string{`a"b`, `a\b`, "a b", "é", "a\x00"} {
		cfg := Config{URLs: []string{"ws://127.0.0.1:1/ws"}, Run: run, Chats: 1, Members: 2, Duration: time.Second, Window: 1, Size: 64}
		if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "invalid config") {
			t.Errorf("run %q: %v", run, err)
		}
	}
}

// TestRunNeedsURL checks that a run without an endpoint is refused, as is
// an idle run.
func TestRunNeedsURL(t *testing.T) {
	cfg := Config{Chats: 1, Members: 2, Duration: time.Second, Window: 1, Size: 64}
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "invalid config") {
		t.Errorf("Run: %v", err)
	}
	if _, err := Idle(t.Context(), IdleConfig{Conns: 1, Hold: time.Second}); err == nil || !strings.Contains(err.Error(), "invalid idle config") {
		t.Errorf("Idle: %v", err)
	}
}
