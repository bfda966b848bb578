package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
)

// lockedBuffer is a log destination that the test reads while the watcher
// writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// TestWatchPath: the watcher logs one error when the data file goes, not
// one per check, one line when it comes back, and an error again when it
// goes again.
func TestWatchPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chateau.db")
	l, _, err := eventlog.Open(path, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out lockedBuffer
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchPath(ctx, l, slog.New(slog.NewTextHandler(&out, nil)), ticks)
	}()
	// checks has the watcher check n times; the check after the last tick
	// is done when the watcher takes the next, so one more is sent.
	checks := func(n int) {
		for range n + 1 {
			ticks <- time.Now()
		}
	}
	want := func(errors, infos int) {
		t.Helper()
		if got := out.count("level=ERROR"); got != errors {
			t.Errorf("%d errors logged, want %d", got, errors)
		}
		if got := out.count("level=INFO"); got != infos {
			t.Errorf("%d infos logged, want %d", got, infos)
		}
	}
	checks(3)
	want(0, 0)
	mustRename(t, path, path+".moved")
	checks(5)
	want(1, 0)
	mustRename(t, path+".moved", path)
	checks(3)
	want(1, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	checks(3)
	want(2, 1)
	cancel()
	<-done
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
