package jetlog_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/oklog/ulid/v2"
)

func TestLog_Publish_ReadScanGet(t *testing.T) {
	l := mustNode(t, startServer(t), jetlog.Options{})
	want := appendBatches(t, []*jetlog.Log{l}, 1, 3, 64)
	checkIncreasing(t, want)

	// Publish has waited for the tail: Read needs no Sync.
	var read []eventlog.Record
	for got := l.Read(ulid.ULID{}, 10); len(got) > 0; got = l.Read(ulid.ULID{}, 10) {
		read = append(read, got...)
	}
	checkSame(t, "Read", read, want)
	checkSame(t, "Scan from the start", scanAll(t, l, ulid.ULID{}), want)
	checkSame(t, "Scan after the 2nd", scanAll(t, l, want[1].ID), want[2:])
	checkSame(t, "Scan after the last", scanAll(t, l, want[len(want)-1].ID), nil)
	if l.Last() != want[len(want)-1].ID {
		t.Errorf("Last = %s, want %s", l.Last(), want[len(want)-1].ID)
	}

	// Out of order, repeated, and more than one page of Get.
	order := []int{5, 0, 67, 2, 5}
	for j := len(want) - 1; j >= 0; j-- {
		order = append(order, j)
	}
	ids := make([]ulid.ULID, len(order))
	wantGet := make([]eventlog.Record, len(order))
	for i, j := range order {
		ids[i], wantGet[i] = want[j].ID, want[j]
	}
	checkSame(t, "Get", getAll(t, l, ids...), wantGet)
}

func TestLog_Read(t *testing.T) {
	l := mustNode(t, startServer(t), jetlog.Options{})
	ids := mustAppend(t, l, "a", "b", "c", "d")
	if got := l.Read(ulid.ULID{}, 0); got != nil {
		t.Errorf("Read of 0 records = %v", got)
	}
	got := l.Read(ids[1], 1)
	checkSame(t, "Read after b, 1", got, []eventlog.Record{{ID: ids[2], Data: []byte("c")}})
	got = l.Read(ulid.ULID{}, 10)
	checkSame(t, "Read of the rest", got, []eventlog.Record{{ID: ids[3], Data: []byte("d")}})
	if got := l.Read(ulid.ULID{}, 10); got != nil {
		t.Errorf("Read of an empty buffer = %v", got)
	}
	select {
	case <-l.Ready():
	default:
		t.Error("Ready has no value after records were buffered")
	}
}

func TestLog_Publish_TooLarge(t *testing.T) {
	l := mustNode(t, startServer(t), jetlog.Options{})
	if _, err := l.Append(records("r", jetlog.MaxBatch+1)...); !errors.Is(err, jetlog.ErrBatchTooLarge) {
		t.Errorf("Append of MaxBatch+1 = %v, want ErrBatchTooLarge", err)
	}
	if ids, err := l.Append(records("r", jetlog.MaxBatch)...); err != nil || len(ids) != jetlog.MaxBatch {
		t.Errorf("Append of MaxBatch = %d ids, %v", len(ids), err)
	}
}

// TestLog_Publish_TwoNodes publishes from two nodes at once: both tails
// read the same records, with the same ids, in the same order.
func TestLog_Publish_TwoNodes(t *testing.T) {
	url := startServer(t)
	nodes := []*jetlog.Log{mustNode(t, url, jetlog.Options{}), mustNode(t, url, jetlog.Options{})}
	const batches = 40
	published := make([][]eventlog.Record, len(nodes))
	var wg sync.WaitGroup
	for n, l := range nodes {
		wg.Go(func() {
			for b := range batches {
				data := records(fmt.Sprintf("node%d-batch%d", n, b), 1+b%4)
				ids, err := l.Append(data...)
				if err != nil {
					t.Errorf("node %d: %v", n, err)
					return
				}
				for i, id := range ids {
					published[n] = append(published[n], eventlog.Record{ID: id, Data: data[i]})
				}
			}
		})
	}
	wg.Wait()

	logs := [][]eventlog.Record{readAll(t, nodes[0]), readAll(t, nodes[1])}
	checkIncreasing(t, logs[0])
	checkSame(t, "node 1's log against node 0's", logs[1], logs[0])
	byID := map[ulid.ULID]string{}
	for _, rec := range logs[0] {
		byID[rec.ID] = string(rec.Data)
	}
	for n := range published {
		for _, rec := range published[n] {
			if byID[rec.ID] != string(rec.Data) {
				t.Fatalf("node %d published %q as %s; the log has %q there", n, rec.Data, rec.ID, byID[rec.ID])
			}
		}
	}
	if want := len(published[0]) + len(published[1]); len(logs[0]) != want {
		t.Errorf("the log holds %d records, the nodes published %d", len(logs[0]), want)
	}
}

func TestLog_Publish_Conflict(t *testing.T) {
	tests := []struct {
		name   string
		first  []eventlog.Entry // published first, succeeds
		second []eventlog.Entry // conflicts, stores nothing
	}{
		{"same key",
			[]eventlog.Entry{{Data: []byte("alice"), Key: "user:alice"}},
			[]eventlog.Entry{{Data: []byte("x")}, {Data: []byte("alice again"), Key: "user:alice"}}},
		{"same dedup",
			[]eventlog.Entry{{Data: []byte("hi"), Dedup: "req-1"}},
			[]eventlog.Entry{{Data: []byte("hi"), Dedup: "req-1"}, {Data: []byte("x")}}},
		{"key twice in a batch",
			nil,
			[]eventlog.Entry{{Data: []byte("a"), Key: "chat:c"}, {Data: []byte("b"), Key: "chat:c"}}},
		{"dedup twice in a batch",
			nil,
			[]eventlog.Entry{{Data: []byte("a"), Dedup: "req-2"}, {Data: []byte("b"), Dedup: "req-2"}}},
	}
	url := startServer(t)
	js := mustJetStream(t, url)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := fmt.Sprint("conflict", i)
			l := mustNode(t, url, jetlog.Options{Stream: stream})
			if tt.first != nil {
				if _, err := l.Publish(tt.first); err != nil {
					t.Fatal(err)
				}
			}
			before := lastSeq(t, js, stream)
			if _, err := l.Publish(tt.second); !errors.Is(err, eventlog.ErrConflict) {
				t.Errorf("Publish = %v, want ErrConflict", err)
			}
			if after := lastSeq(t, js, stream); after != before {
				t.Errorf("the refused batch moved the stream from sequence %d to %d", before, after)
			}
			if ids := mustAppend(t, l, "later"); len(ids) != 1 {
				t.Errorf("after a conflict, Append returned %d ids", len(ids))
			}
		})
	}
}

// TestLog_Publish_KeyConflict claims one Key from two nodes at once, many
// times: each time exactly one stores its batch, on one server (where the
// server refuses with "wrong last sequence") as in a cluster (where a
// batch in flight on the subject refuses the other).
func TestLog_Publish_KeyConflict(t *testing.T) {
	tests := []struct {
		name     string
		urls     func(t *testing.T) (string, string)
		replicas int
	}{
		{"one server", func(t *testing.T) (string, string) { u := startServer(t); return u, u }, 1},
		{"cluster", func(t *testing.T) (string, string) {
			servers := startCluster(t)
			return servers[0].URL(), servers[1].URL()
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u0, u1 := tt.urls(t)
			opt := jetlog.Options{Replicas: tt.replicas}
			claimConcurrently(t, mustNode(t, u0, opt), mustNode(t, u1, opt))
		})
	}
}

// claimConcurrently has both nodes publish a batch claiming the same Key
// at once, for several Keys, and checks that exactly one stores its batch
// each time and that both logs hold just the winners.
func claimConcurrently(t *testing.T, nodes ...*jetlog.Log) {
	const rounds = 20
	for r := range rounds {
		key := fmt.Sprint("user:", r)
		errs := make([]error, len(nodes))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for n, l := range nodes {
			wg.Go(func() {
				<-start
				_, errs[n] = l.Publish([]eventlog.Entry{
					{Data: fmt.Appendf(nil, "%s by %d", key, n), Key: key},
					{Data: fmt.Appendf(nil, "joined by %d", n)},
				})
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for n, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, eventlog.ErrConflict):
				t.Fatalf("round %d, node %d: %v, want ErrConflict or success", r, n, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d nodes stored their claim of %q, want exactly 1 (%v)", r, ok, key, errs)
		}
	}
	recs := readAll(t, nodes[0])
	if len(recs) != 2*rounds {
		t.Errorf("the log holds %d records, want the %d of the winning batches", len(recs), 2*rounds)
	}
	checkSame(t, "node 1's log against node 0's", readAll(t, nodes[1]), recs)
}

// TestLog_Publish_ClockBehind publishes in turns from a node whose clock
// is an hour ahead and one whose clock is an hour behind.
func TestLog_Publish_ClockBehind(t *testing.T) {
	url := startServer(t)
	ahead := &clock{t: time.Now().Add(time.Hour)}
	behind := &clock{t: time.Now().Add(-time.Hour)}
	nodes := []*jetlog.Log{
		mustNode(t, url, jetlog.Options{Now: ahead.Now}),
		mustNode(t, url, jetlog.Options{Now: behind.Now}),
	}
	var prev ulid.ULID
	for i := range 10 {
		ids := mustAppend(t, nodes[i%2], "a", "b")
		if ids[0].Compare(prev) <= 0 || ids[1].Compare(ids[0]) <= 0 {
			t.Fatalf("turn %d: ids %s, %s after %s", i, ids[0], ids[1], prev)
		}
		prev = ids[1]
		ahead.Add(time.Millisecond)
		behind.Add(time.Millisecond)
	}
	recs := readAll(t, nodes[1])
	checkIncreasing(t, recs)
	checkSame(t, "the nodes' logs", readAll(t, nodes[0]), recs)
}
