package jetlog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"
)

func TestOpen_CreatesStream(t *testing.T) {
	url := startServer(t)
	mustNode(t, url, jetlog.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := mustJetStream(t, url).Stream(ctx, "chateau")
	if err != nil {
		t.Fatalf("the default stream: %v", err)
	}
	cfg := s.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "chateau.>" {
		t.Errorf("subjects %q, want [chateau.>]", cfg.Subjects)
	}
	if cfg.Storage != jetstream.FileStorage || cfg.Replicas != 1 {
		t.Errorf("storage %s with %d replicas, want file with 1", cfg.Storage, cfg.Replicas)
	}
	if !cfg.AllowAtomicPublish || !cfg.AllowDirect || !cfg.DenyDelete || !cfg.DenyPurge {
		t.Errorf("allow_atomic %v, allow_direct %v, deny_delete %v, deny_purge %v; want all true",
			cfg.AllowAtomicPublish, cfg.AllowDirect, cfg.DenyDelete, cfg.DenyPurge)
	}
	if cfg.Duplicates != jetlog.DedupWindow {
		t.Errorf("duplicates window %v, want %v", cfg.Duplicates, jetlog.DedupWindow)
	}
	if cfg.MaxMsgs != -1 || cfg.MaxBytes != -1 || cfg.MaxAge != 0 || cfg.MaxMsgsPerSubject != -1 {
		t.Errorf("limits msgs %d, bytes %d, age %v, per subject %d; want none",
			cfg.MaxMsgs, cfg.MaxBytes, cfg.MaxAge, cfg.MaxMsgsPerSubject)
	}
}

func TestOpen_Reopen(t *testing.T) {
	url := startServer(t)
	first := mustNode(t, url, jetlog.Options{Stream: "s"})
	ids := mustAppend(t, first, "a", "b")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again := mustNode(t, url, jetlog.Options{Stream: "s"})
	recs := readAll(t, again)
	checkSame(t, "after reopening", recs, []eventlog.Record{{ID: ids[0], Data: []byte("a")}, {ID: ids[1], Data: []byte("b")}})
	if again.Last() != ids[1] {
		t.Errorf("Last = %s, want %s", again.Last(), ids[1])
	}
	more := mustAppend(t, again, "c")
	if more[0].Compare(ids[1]) <= 0 {
		t.Errorf("id after reopening %s, not greater than %s", more[0], ids[1])
	}
}

func TestOpen_WeakStream(t *testing.T) {
	good := jetstream.StreamConfig{
		Subjects: []string{"x"}, Storage: jetstream.FileStorage, Replicas: 1,
		AllowAtomicPublish: true, AllowDirect: true,
	}
	tests := []struct {
		name     string
		change   func(*jetstream.StreamConfig)
		replicas int
		want     string
	}{
		{"memory", func(c *jetstream.StreamConfig) { c.Storage = jetstream.MemoryStorage }, 1, "storage is memory"},
		{"fewer replicas", func(c *jetstream.StreamConfig) {}, 3, "1 replicas, fewer than the 3"},
		{"no atomic", func(c *jetstream.StreamConfig) { c.AllowAtomicPublish = false }, 1, "allow_atomic"},
		{"no direct", func(c *jetstream.StreamConfig) { c.AllowDirect = false }, 1, "allow_direct"},
	}
	url := startServer(t)
	js := mustJetStream(t, url)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			cfg.Name = string(rune('a' + i))
			cfg.Subjects = []string{cfg.Name + ".>"}
			tt.change(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				l, err := jetlog.Open(ctx, mustConnect(t, url), jetlog.Options{Stream: cfg.Name, Replicas: tt.replicas, ReadOnly: ro})
				if err == nil {
					l.Close()
				}
				if !errors.Is(err, jetlog.ErrWeakStream) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("open (read-only %v) = %v, want one line of ErrWeakStream naming %q", ro, err, tt.want)
				}
			}
		})
	}
}

func TestOpen_ReadOnly(t *testing.T) {
	url := startServer(t)
	js := mustJetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()

	l, err := jetlog.Open(ctx, mustConnect(t, url), jetlog.Options{Stream: "ro", ReadOnly: true})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("read-only open of a missing stream = %v, want ErrStreamNotFound", err)
	}
	if err == nil {
		l.Close()
	}
	if _, err := js.Stream(ctx, "ro"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("after a read-only open the stream exists (%v)", err)
	}

	ids := mustAppend(t, mustNode(t, url, jetlog.Options{Stream: "ro"}), "x")
	ro := mustNode(t, url, jetlog.Options{Stream: "ro", ReadOnly: true})
	if _, err := ro.Append([]byte("y")); !errors.Is(err, eventlog.ErrReadOnly) {
		t.Errorf("Append read-only = %v, want ErrReadOnly", err)
	}
	if _, err := ro.Publish([]eventlog.Entry{{Data: []byte("y"), Key: "k"}}); !errors.Is(err, eventlog.ErrReadOnly) {
		t.Errorf("Publish read-only = %v, want ErrReadOnly", err)
	}
	checkSame(t, "read-only read", readAll(t, ro), []eventlog.Record{{ID: ids[0], Data: []byte("x")}})
}

func TestLog_Close(t *testing.T) {
	url := startServer(t)
	nc := mustConnect(t, url)
	l := mustOpen(t, nc, jetlog.Options{})
	ids := mustAppend(t, l, "a")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	noop := func(eventlog.Record) error { return nil }
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { _, err := l.Append([]byte("b")); return err }},
		{"Publish", func() error { _, err := l.Publish([]eventlog.Entry{{Data: []byte("b")}}); return err }},
		{"Sync", func() error { return l.Sync(ctx) }},
		{"Scan", func() error { return l.Scan(ulid.ULID{}, noop) }},
		{"Get", func() error { return l.Get(ids, noop) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
	if nc.IsClosed() {
		t.Error("Close closed the caller's connection")
	}
}

// TestLog_Close_Goroutines checks that Close leaves no goroutine of the
// log's behind: the tail, Scan's and Get's consumers and fetches. A first
// round starts what the server and the connection keep for good (the
// stream, the connection's reply subscription); a second round must add
// nothing to them.
func TestLog_Close_Goroutines(t *testing.T) {
	nc := mustConnect(t, startServer(t))
	round := func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		l, err := jetlog.Open(ctx, nc, jetlog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids := mustAppend(t, l, "a", "b")
		scanAll(t, l, ulid.ULID{})
		getAll(t, l, ids...)
		mustSync(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	round()
	ignore := goleak.IgnoreCurrent()
	round()
	if err := goleak.Find(ignore); err != nil {
		t.Error(err)
	}
}
