package eventlog_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestLog_Appended: one channel for every caller until a commit closes it;
// a failed Append closes nothing; a new channel after each commit.
func TestLog_Appended(t *testing.T) {
	l, path := mustOpenLog(t)
	first := l.Appended()
	if isClosed(first) || l.Appended() != first {
		t.Fatal("Appended before any commit: closed, or not the same channel twice")
	}
	if _, err := l.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if !isClosed(first) {
		t.Fatal("the channel is open after a commit")
	}
	second := l.Appended()
	if isClosed(second) {
		t.Fatal("the channel after a commit is already closed")
	}
	// A commit that fails closes nothing.
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("two")); !errors.Is(err, eventlog.ErrFileGone) {
		t.Fatalf("append with the file gone: %v", err)
	}
	if isClosed(second) {
		t.Fatal("a failed Append closed the channel")
	}
	if err := os.Rename(path+".moved", path); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("three")); err != nil {
		t.Fatal(err)
	}
	if !isClosed(second) {
		t.Fatal("the channel is open after the second commit")
	}
}

func TestLog_Appended_Close(t *testing.T) {
	l, _ := mustOpenLog(t)
	waiting := l.Appended()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !isClosed(waiting) {
		t.Fatal("Close left the channel open")
	}
	if !isClosed(l.Appended()) {
		t.Fatal("Appended after Close returned an open channel")
	}
}

// TestLog_Appended_NoCommitMissed follows a log as a reader would (take
// the channel, read what is there, wait) while another goroutine appends
// one record at a time: the reader sees every record, in order, without
// ever waiting past a deadline.
func TestLog_Appended_NoCommitMissed(t *testing.T) {
	l, _ := mustOpenLog(t)
	const n = 200
	appended := make(chan error, 1)
	go func() {
		for _, p := range payloads(n) {
			if _, err := l.Append(p); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	var after ulid.ULID
	seen := 0
	deadline := time.After(10 * time.Second)
	for seen < n {
		wake := l.Appended()
		err := l.Scan(after, func(rec eventlog.Record) error {
			if want := payloads(n)[seen]; string(rec.Data) != string(want) {
				t.Fatalf("record %d is %q, want %q", seen, rec.Data, want)
			}
			after = rec.ID
			seen++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen == n {
			break
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("no wake-up within 10 s after %d of %d records", seen, n)
		}
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
}
