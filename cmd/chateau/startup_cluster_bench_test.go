package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// startupClusterWait bounds filling the stream and each start of a node.
const startupClusterWait = 10 * time.Minute

// BenchmarkStartupCluster measures how long a new node of a cluster takes
// to be ready on a stream of 1,000,000 events: BenchmarkStartup's log
// (10,000 users, 1,000 chats of 10, the rest group messages with a
// messageID), published once, in batches of jetlog.MaxBatch, to a stream
// of one replica on an in-process NATS server that fsyncs every write.
//
// Each start does what `serve --nats` does before it is ready: connect to
// NATS and open the stream and the presence bucket (openClusterNode), then
// rebuild the projections from the whole stream (replay: the tail reads it
// to the stream's last sequence, Sync, and chat.Rebuild applies every
// record). ms/start is from the connect until the projections are built;
// ms/catchup, of it, until the tail has read the last sequence. The NATS
// server runs in the benchmark's process, so it shares the machine's
// cores with the node as it would on one machine; its files are in the
// page cache after the first start.
//
//	go test -run XXX -bench StartupCluster -benchtime 3x ./cmd/chateau
func BenchmarkStartupCluster(b *testing.B) {
	const users, chats, total = 10_000, 1_000, 1_000_000
	url := natstest.Start(b).URL()
	filled := time.Now()
	fillStream(b, url, users, chats, total)
	b.Logf("published %d events in %v", total, time.Since(filled).Round(time.Millisecond))
	// A sub-benchmark, so that the stream is filled once, not for each
	// round of iterations that the testing package runs.
	b.Run("events=1M", func(b *testing.B) {
		var start, catchup time.Duration
		for range b.N {
			s, c := startNode(b, url, total)
			start += s
			catchup += c
		}
		b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "ms/start")
		b.ReportMetric(float64(catchup.Milliseconds())/float64(b.N), "ms/catchup")
	})
}

// startNode starts a node on the stream at url as serve does, checks that
// its projections hold total events, stops it, and returns how long it
// took to be ready and, of that, to catch up. The stop is not timed.
func startNode(b *testing.B, url string, total int) (ready, catchup time.Duration) {
	b.Helper()
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), startupClusterWait)
	defer cancel()
	start := time.Now()
	node, err := openClusterNode(url, "chateau", 1, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		node.close()
		b.StartTimer()
	}()
	// replay syncs too; syncing first splits the catch-up from the rest,
	// and costs the second one a round trip to the server.
	if err := node.log.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	catchup = time.Since(start)
	state, err := replay(node.log, logger, chat.NewMetrics(prometheus.NewRegistry()), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	ready = time.Since(start)
	if _, _, events := state.Counts(); events != total {
		b.Fatalf("rebuilt %d events, want %d", events, total)
	}
	return ready, catchup
}

// fillStream publishes the start-up benchmarks' log (appendMillion) to the
// stream "chateau", of one replica, on the NATS server at url.
func fillStream(b *testing.B, url string, users, chats, total int) {
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startupClusterWait)
	defer cancel()
	l, err := jetlog.Open(ctx, nc, jetlog.Options{Replicas: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	appendMillion(b, users, chats, total, jetlog.MaxBatch, func(batch [][]byte) error {
		if _, err := l.Append(batch...); err != nil {
			return err
		}
		// The tail keeps every record for Read until it is read: drop
		// them, as a node's sequencer would take them.
		l.Read(l.Last(), 1)
		return nil
	})
}
