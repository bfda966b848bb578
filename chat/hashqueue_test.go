package chat

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHashQueue checks that a two-core server hashes one password at a
// time, lets four wait, and refuses the next at once.
func TestHashQueue(t *testing.T) {
	h := newHashQueue(2)
	release := make(chan struct{})
	var running, most atomic.Int32
	hash := func() {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if !h.do(hash) {
				t.Error("refused with room in the queue")
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.admitted) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d admitted, want 5", len(h.admitted))
		}
		time.Sleep(time.Millisecond) // polling the queue: its waiters send no signal
	}
	if h.do(func() { t.Error("ran a sixth hash") }) {
		t.Error("a full queue admitted a sixth hash")
	}
	close(release)
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d hashes ran at once, want 1", most.Load())
	}
}

func TestRetrySeconds(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want int
	}{{time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {10 * time.Minute, 600}} {
		if got := retrySeconds(tt.wait); got != tt.want {
			t.Errorf("retrySeconds(%v) = %d, want %d", tt.wait, got, tt.want)
		}
	}
}
