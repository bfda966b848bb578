package jetlog_test

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/oklog/ulid/v2"
)

// recordSize is the size of a typical Chateau event's bytes.
const recordSize = 100

// drain reads l's records as a node's sequencer would, until the test
// ends, and counts them in *n (read only after the test).
func drain(tb testing.TB, l *jetlog.Log, n *int) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	tb.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-l.Ready():
			}
			for recs := l.Read(ulid.ULID{}, 1024); len(recs) > 0; recs = l.Read(ulid.ULID{}, 1024) {
				*n += len(recs)
			}
		}
	}()
}

// payloads returns n records' data of recordSize bytes.
func payloads(n int) [][]byte {
	data := make([][]byte, n)
	for i := range data {
		data[i] = bytes.Repeat([]byte{'a' + byte(i%26)}, recordSize)
	}
	return data
}

func BenchmarkLog_Publish(b *testing.B) {
	benchmarkPublish(b, startServer(b), 1)
}

// BenchmarkLog_Publish_Cluster is BenchmarkLog_Publish on a stream of 3
// replicas on 3 servers, as Chateau runs in production. The server stages
// a batch in memory there, where one of 1 replica stages it in files.
func BenchmarkLog_Publish_Cluster(b *testing.B) {
	benchmarkPublish(b, startCluster(b)[0].URL(), 3)
}

// benchmarkPublish publishes batches of 1, 64 and 512 records of
// recordSize bytes on url, while a goroutine reads them as a sequencer
// would.
func benchmarkPublish(b *testing.B, url string, replicas int) {
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprint("batch=", n), func(b *testing.B) {
			l := mustNode(b, url, jetlog.Options{Stream: fmt.Sprint("bench", n), Replicas: replicas})
			var read int
			drain(b, l, &read)
			data := payloads(n)
			b.SetBytes(int64(n * recordSize))
			for b.Loop() {
				if _, err := l.Append(data...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestLog_CatchUp1M measures how long a new node takes to read a stream
// of a million records of recordSize bytes: from Open until Sync returns.
// It runs only when -run names it:
//
//	go test -run TestLog_CatchUp1M -v ./jetlog
func TestLog_CatchUp1M(t *testing.T) {
	if !strings.Contains(flag.Lookup("test.run").Value.String(), "CatchUp") {
		t.Skip("writes a million records; run it with -run TestLog_CatchUp1M")
	}
	const total = 1_000_000
	url := startServer(t)
	w := mustNode(t, url, jetlog.Options{})
	var written int
	drain(t, w, &written)
	data := payloads(jetlog.MaxBatch)
	start := time.Now()
	for range total / jetlog.MaxBatch {
		if _, err := w.Append(data...); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d records in batches of %d in %v", total, jetlog.MaxBatch, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	l := mustNode(t, url, jetlog.Options{})
	var read int
	drain(t, l, &read)
	mustSync(t, l)
	elapsed := time.Since(start)
	t.Logf("a new node's tail read %d records in %v (%.0f records/s)", total, elapsed.Round(time.Millisecond), total/elapsed.Seconds())
	if got := l.Last(); got != w.Last() {
		t.Errorf("the new node's last id %s, the writer's %s", got, w.Last())
	}

	start = time.Now()
	scanned := 0
	err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		scanned++
		return nil
	})
	if err != nil || scanned != total {
		t.Fatalf("Scan of the whole log: %d records, %v", scanned, err)
	}
	elapsed = time.Since(start)
	t.Logf("a Scan of the whole log took %v (%.0f records/s)", elapsed.Round(time.Millisecond), total/elapsed.Seconds())
}
