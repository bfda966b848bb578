package loadgen

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestForEach checks what the setup relies on: every index once, at most
// conc calls at a time, and no call started after the first error or after
// ctx ends. With conc 1 the first call has returned before the next could
// start, so "no more calls" is exact.
func TestForEach(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		n, conc   int
		fn        func(i int, cancel func()) error
		wantCalls int
		wantErr   error
	}{
		{"all succeed", 50, 3, func(int, func()) error { return nil }, 50, nil},
		{"conc 0 runs one at a time", 5, 0, func(int, func()) error { return nil }, 5, nil},
		{"first error stops", 50, 1, func(i int, _ func()) error { return errBoom }, 1, errBoom},
		{"error at the fifth", 50, 1, func(i int, _ func()) error {
			if i == 4 {
				return errBoom
			}
			return nil
		}, 5, errBoom},
		{"ctx ends", 50, 1, func(i int, cancel func()) error { cancel(); return nil }, 1, context.Canceled},
		{"error wins over ctx", 50, 1, func(i int, cancel func()) error { cancel(); return errBoom }, 1, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var (
				mu               sync.Mutex
				calls            []int
				running, maxSeen int
			)
			err := forEach(ctx, tt.n, tt.conc, func(i int) error {
				mu.Lock()
				calls = append(calls, i)
				running++
				maxSeen = max(maxSeen, running)
				mu.Unlock()
				defer func() {
					mu.Lock()
					running--
					mu.Unlock()
				}()
				return tt.fn(i, cancel)
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("forEach = %v, want %v", err, tt.wantErr)
			}
			if len(calls) != tt.wantCalls {
				t.Errorf("%d calls, want %d", len(calls), tt.wantCalls)
			}
			slices.Sort(calls)
			if len(slices.Compact(calls)) != len(calls) {
				t.Errorf("an index was called twice: %v", calls)
			}
			if limit := max(tt.conc, 1); maxSeen > limit {
				t.Errorf("%d calls at once, want at most %d", maxSeen, limit)
			}
		})
	}
}

// TestForEach_WaitsForStarted checks that forEach, after an error, still
// returns only once the calls already started have returned.
func TestForEach_WaitsForStarted(t *testing.T) {
	errBoom := errors.New("boom")
	started, failed, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	returned := make(chan error, 1)
	go func() {
		returned <- forEach(t.Context(), 2, 2, func(i int) error {
			if i == 1 {
				<-started
				defer close(failed)
				return errBoom
			}
			close(started)
			<-release
			finished.Store(true)
			return nil
		})
	}()
	<-failed
	select {
	case err := <-returned:
		t.Fatalf("forEach returned %v while a call was still running", err)
	case <-time.After(100 * time.Millisecond): // long enough to see it return early
	}
	close(release)
	select {
	case err := <-returned:
		if !errors.Is(err, errBoom) || !finished.Load() {
			t.Errorf("forEach = %v with the started call finished %v; want boom after it", err, finished.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("forEach did not return after the started call did")
	}
}
