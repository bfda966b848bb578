package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// mustOpenEventLog opens a new read-write log in t.TempDir, closed when
// the test ends.
func mustOpenEventLog(t *testing.T) *eventlog.Log {
	t.Helper()
	l, _, err := eventlog.Open(filepath.Join(t.TempDir(), "chateau.db"), eventlog.Options{UnsafeNoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// startEventsServer serves GET /events of l over loopback TCP.
func startEventsServer(t *testing.T, l *eventlog.Log) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /events", eventsHandler(l, slog.New(slog.DiscardHandler)))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

func mustAppend(t *testing.T, l *eventlog.Log, data ...[]byte) []ulid.ULID {
	t.Helper()
	ids, err := l.Append(data...)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// collect reads a GET /events response with readFrames and returns the
// records' data and how many caught-up frames came, and readFrames' error.
func collect(t *testing.T, hs *httptest.Server, query string, follow bool) ([]string, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2eWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/events?"+query, nil)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	var got []string
	caughtUp := 0
	err = readFrames(bufio.NewReader(resp.Body), follow,
		func(rec eventlog.Record) error { got = append(got, string(rec.Data)); return nil },
		func() error { caughtUp++; return nil })
	return got, caughtUp, err
}

func TestEventsHandler(t *testing.T) {
	l := mustOpenEventLog(t)
	hs := startEventsServer(t, l)
	if got, n, err := collect(t, hs, "", false); err != nil || len(got) != 0 || n != 1 {
		t.Fatalf("empty log: %q, %d caught-up, %v", got, n, err)
	}
	// More than a chunk, so that the stream spans read transactions.
	var data [][]byte
	for i := range chunkRecords + 10 {
		data = append(data, fmt.Appendf(nil, "record %d", i))
	}
	ids := mustAppend(t, l, data...)
	got, n, err := collect(t, hs, "", false)
	if err != nil || len(got) != len(data) || n != 1 || got[0] != "record 0" || got[len(got)-1] != string(data[len(data)-1]) {
		t.Fatalf("%d records, %d caught-up, %v", len(got), n, err)
	}
	got, _, err = collect(t, hs, "after="+ids[len(ids)-3].String(), false)
	if err != nil || strings.Join(got, ",") != string(data[len(data)-2])+","+string(data[len(data)-1]) {
		t.Fatalf("after: %q, %v", got, err)
	}
	for _, q := range []string{"after=nope", "follow=yes"} {
		if _, _, err := collect(t, hs, q, false); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("%s: %v, want 400", q, err)
		}
	}
}

// TestEventsHandler_Follow: a follower gets what is committed after it
// caught up, and the server's shutdown ends its stream with the end frame
// after every record.
func TestEventsHandler_Follow(t *testing.T) {
	l := mustOpenEventLog(t)
	mustAppend(t, l, []byte("before"))
	hs := startEventsServer(t, l)
	resp, err := hs.Client().Get(hs.URL + "/events?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	records := make(chan string, 100) // closed when the stream ends, with err set
	caughtUp := make(chan struct{}, 100)
	var streamErr error
	go func() {
		defer close(records)
		streamErr = readFrames(bufio.NewReader(resp.Body), true,
			func(rec eventlog.Record) error { records <- string(rec.Data); return nil },
			func() error { caughtUp <- struct{}{}; return nil })
	}()
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case got, ok := <-records:
				if !ok {
					t.Fatalf("stream ended before %q: %v", w, streamErr)
				}
				if got != w {
					t.Fatalf("got %q, want %q", got, w)
				}
			case <-time.After(e2eWait):
				t.Fatalf("no %q within %v", w, e2eWait)
			}
		}
	}
	expect("before")
	select {
	case <-caughtUp:
	case <-time.After(e2eWait):
		t.Fatal("no caught-up frame after the history")
	}
	mustAppend(t, l, []byte("one"))
	mustAppend(t, l, []byte("two"), []byte("three"))
	expect("one", "two", "three")
	// A record committed as the server begins to stop is still sent.
	mustAppend(t, l, []byte("last"))
	ctx, cancel := context.WithTimeout(t.Context(), e2eWait)
	defer cancel()
	if err := hs.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a follower: %v", err)
	}
	expect("last")
	select {
	case _, ok := <-records:
		if ok || !errors.Is(streamErr, errServerStopped) {
			t.Fatalf("stream ended with %v, want the end frame", streamErr)
		}
	case <-time.After(e2eWait):
		t.Fatalf("the stream did not end within %v of the shutdown", e2eWait)
	}
}

// dialStalled asks the listener at addr for GET /events?follow=1 and
// never reads the answer, with a small receive buffer. The test closes
// the connection when it ends.
func dialStalled(t *testing.T, network, addr string) net.Conn {
	return dialStalledPath(t, network, addr, "/events?follow=1")
}

// dialStalledPath asks the listener at addr for GET path and never reads
// the answer, with a small receive buffer.
func dialStalledPath(t *testing.T, network, addr, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096)
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: chateau-admin\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestBackupHandler_StalledClient: a backup client that never reads holds
// no read transaction (the copy is staged in a file first), so appends
// that grow the file go on and the log closes.
func TestBackupHandler_StalledClient(t *testing.T) {
	l := mustOpenEventLog(t)
	record := bytes.Repeat([]byte("x"), 8<<10)
	for range 2000 { // a copy of 16 MiB, far more than the sockets buffer
		mustAppend(t, l, record)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /backup", backupHandler(l, slog.New(slog.DiscardHandler)))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	conn := dialStalledPath(t, "tcp", hs.Listener.Addr().String(), "/backup")
	// The response's first bytes: the copy is staged and being sent.
	buf := make([]byte, 1)
	_ = conn.SetReadDeadline(time.Now().Add(e2eWait))
	if _, err := conn.Read(buf); err != nil {
		t.Fatalf("no backup started: %v", err)
	}
	// 16 MiB more: the file grows past its map, and bbolt remaps it.
	appendThenClose(t, l, record, "a backup client that does not read")
	conn.Close() // the handler's Write fails, so that hs.Close returns
}

// appendThenClose appends record 2,000 times and then closes l, failing
// the test if either waits (beside what, a client that does not read).
func appendThenClose(t *testing.T, l *eventlog.Log, record []byte, beside string) {
	t.Helper()
	appended := make(chan error, 1)
	go func() {
		for range 2000 {
			if _, err := l.Append(record); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * e2eWait):
		t.Fatalf("2000 appends did not finish within %v beside %s", 4*e2eWait, beside)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(e2eWait):
		t.Fatalf("Close waits: %s holds a read transaction", beside)
	}
}

// TestEventsHandler_StalledClient: a follower that never reads holds no
// read transaction while the handler waits to write to it, so appends go
// on and the log closes; then the handler ends once the client is gone.
func TestEventsHandler_StalledClient(t *testing.T) {
	l := mustOpenEventLog(t)
	hs := startEventsServer(t, l)
	conn := dialStalled(t, "tcp", hs.Listener.Addr().String())
	// Far more than the sockets buffer: the handler ends up blocked in
	// Write. Each append must still return.
	record := bytes.Repeat([]byte("x"), 8<<10)
	appendThenClose(t, l, record, "a follower that does not read")
	conn.Close() // the handler's Write fails, so that hs.Close returns
}
