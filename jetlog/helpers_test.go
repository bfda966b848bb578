package jetlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// testWait bounds every wait of a test for the log or the servers.
const testWait = 30 * time.Second

// mustConnect connects to url as a Chateau node does, reconnecting
// without end, and closes the connection when the test ends.
func mustConnect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// mustOpen opens a log on nc with opt and closes it when the test ends.
// A test may close it itself.
func mustOpen(t testing.TB, nc *nats.Conn, opt jetlog.Options) *jetlog.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l, err := jetlog.Open(ctx, nc, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

// testWriter writes a log's lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// mustNode opens a log as a node of its own would: on a new connection
// to url.
func mustNode(t testing.TB, url string, opt jetlog.Options) *jetlog.Log {
	t.Helper()
	return mustOpen(t, mustConnect(t, url), opt)
}

// mustJetStream returns a JetStream client of its own on url, to look at
// or prepare the stream beside the log.
func mustJetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(mustConnect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// mustSync syncs l within testWait.
func mustSync(t testing.TB, l *jetlog.Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := l.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// readAll takes every record the tail has buffered, after Sync.
func readAll(t testing.TB, l *jetlog.Log) []eventlog.Record {
	t.Helper()
	mustSync(t, l)
	var recs []eventlog.Record
	for {
		got := l.Read(ulid.ULID{}, 100)
		if len(got) == 0 {
			return recs
		}
		recs = append(recs, got...)
	}
}

// scanAll returns every record Scan finds after after.
func scanAll(t testing.TB, l *jetlog.Log, after ulid.ULID) []eventlog.Record {
	t.Helper()
	var recs []eventlog.Record
	err := l.Scan(after, func(rec eventlog.Record) error {
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("scan after %s: %v", after, err)
	}
	return recs
}

// appendBatches appends one batch of sizes[i] records from each of nodes
// in turn and returns the records as the nodes published them.
func appendBatches(t testing.TB, nodes []*jetlog.Log, sizes ...int) []eventlog.Record {
	t.Helper()
	var recs []eventlog.Record
	for i, n := range sizes {
		data := records(fmt.Sprint("batch", i), n)
		ids, err := nodes[i%len(nodes)].Append(data...)
		if err != nil {
			t.Fatalf("append batch %d: %v", i, err)
		}
		for j, id := range ids {
			recs = append(recs, eventlog.Record{ID: id, Data: data[j]})
		}
	}
	return recs
}

// getAll returns what Get finds for ids.
func getAll(t testing.TB, l *jetlog.Log, ids ...ulid.ULID) []eventlog.Record {
	t.Helper()
	var recs []eventlog.Record
	if err := l.Get(ids, func(rec eventlog.Record) error { recs = append(recs, rec); return nil }); err != nil {
		t.Fatalf("get: %v", err)
	}
	return recs
}

// mustAppend appends data and returns the ids.
func mustAppend(t testing.TB, l *jetlog.Log, data ...string) []ulid.ULID {
	t.Helper()
	bs := make([][]byte, len(data))
	for i, d := range data {
		bs[i] = []byte(d)
	}
	ids, err := l.Append(bs...)
	if err != nil {
		t.Fatalf("append %q: %v", data, err)
	}
	if len(ids) != len(data) {
		t.Fatalf("append %d records returned %d ids", len(data), len(ids))
	}
	return ids
}

// checkIncreasing fails the test unless the records' ids strictly
// increase.
func checkIncreasing(t testing.TB, recs []eventlog.Record) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if recs[i-1].ID.Compare(recs[i].ID) >= 0 {
			t.Fatalf("record %d has id %s, not greater than record %d's %s", i, recs[i].ID, i-1, recs[i-1].ID)
		}
	}
}

// checkSame fails the test unless got and want hold the same ids and
// bytes in the same order.
func checkSame(t testing.TB, what string, got, want []eventlog.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("%s: record %d is %s %q, want %s %q", what, i, got[i].ID, got[i].Data, want[i].ID, want[i].Data)
		}
	}
}

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lastSeq returns the stream's last sequence, from its leader.
func lastSeq(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// retry calls f until it returns nil or testWait has passed, and returns
// its last error.
func retry(f func() error) error {
	deadline := time.Now().Add(testWait)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// records makes n records' data, named by prefix.
func records(prefix string, n int) [][]byte {
	data := make([][]byte, n)
	for i := range data {
		data[i] = fmt.Appendf(nil, "%s-%d", prefix, i)
	}
	return data
}

// startCluster starts a cluster of 3 servers and waits until its meta
// leader can place a stream on all of them: natstest returns once every
// server knows the leader, which may not yet know every server's
// JetStream, and a stream of 3 replicas then finds "no suitable peers".
func startCluster(t testing.TB) []*natstest.Server {
	t.Helper()
	servers := natstest.StartCluster(t, 3)
	err := retry(func() error {
		for _, s := range servers {
			if peers := s.JetStreamClusterPeers(); len(peers) == len(servers) {
				return nil
			}
		}
		return errors.New("the meta leader does not know every server's JetStream")
	})
	if err != nil {
		t.Fatal(err)
	}
	return servers
}

// startServer starts one NATS server and returns its URL.
func startServer(t testing.TB) string {
	t.Helper()
	return natstest.Start(t).URL()
}
