package loadgen

import (
	"encoding/json"
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
		sent, seq, ok := parseContent(req.Content)
		if !ok || seq != 42 || !sent.Equal(at) {
			t.Errorf("size %d: parsed %v %d %v", size, sent, seq, ok)
		}
	}
	for _, bad := range []string{"", "bench", "1 2", "x 2 ", "1 x ", "1 0 "} {
		if _, _, ok := parseContent(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1000; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarize(d)
	want := Latency{N: 1000, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("no samples: %+v", got)
	}
}
