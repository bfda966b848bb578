package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/loadgen"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/wsapi"
)

// startBenchServer serves a real chat.Core and wsapi.Server, without a
// rate limit, on a new log in t.TempDir, and returns its WebSocket URL.
// The test's cleanup stops it.
func startBenchServer(t *testing.T) string {
	t.Helper()
	l, _, err := eventlog.Open(filepath.Join(t.TempDir(), "chateau.db"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close log: %v", err)
		}
	})
	url, _ := serveBench(t, l, nil)
	return url
}

// startBenchNodes starts n nodes of one cluster, as `serve --nats` opens
// them, on a stream of one replica on an in-process NATS server. It
// returns their WebSocket URLs and how many connections each has been
// asked to upgrade. The test's cleanup stops them.
func startBenchNodes(t *testing.T, n int) ([]string, []*atomic.Int64) {
	t.Helper()
	natsURL := natstest.Start(t).URL()
	urls := make([]string, n)
	upgrades := make([]*atomic.Int64, n)
	for i := range n {
		node, err := openClusterNode(natsURL, "chateau", 1, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.close)
		urls[i], upgrades[i] = serveBench(t, node.log, node)
	}
	return urls, upgrades
}

// serveBench serves a chat core on l, without a rate limit, and returns
// its WebSocket URL and a count of the requests it has had, which are all
// upgrades: the load generator asks for nothing else. With a node, the
// core is that node of a cluster. The test's cleanup stops it, before the
// cleanups registered earlier close l.
func serveBench(t *testing.T, l chat.Log, node *clusterNode) (string, *atomic.Int64) {
	t.Helper()
	state, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	core := &chat.Core{Log: l, State: state, Encode: wsapi.Encode}
	if node != nil {
		core.Presence = node.presence
		core.MaxBatch = jetlog.MaxBatch
	}
	core.Start()
	s := &wsapi.Server{Core: core, RateLimit: 0}
	s.Start()
	upgrades := new(atomic.Int64)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrades.Add(1)
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		core.Stop()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", upgrades
}

// runBench runs `chateau bench args... --json` and decodes its report into
// rep. It returns the command's error and its stderr.
func runBench(t *testing.T, ctx context.Context, rep any, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := (&BenchCommand{Stdout: &out, Stderr: &errOut}).Run(ctx, append(args, "-json"))
	if out.Len() > 0 {
		if jerr := json.Unmarshal(out.Bytes(), rep); jerr != nil {
			t.Fatalf("report is not JSON: %v\n%s", jerr, out.Bytes())
		}
		if strings.Count(out.String(), "\n") != 1 {
			t.Fatalf("report is not one line:\n%s", out.Bytes())
		}
	}
	return errOut.String(), err
}

// checkDelivered fails the test unless rep shows traffic delivered exactly
// once with measured latencies.
func checkDelivered(t *testing.T, rep *loadgen.Report) {
	t.Helper()
	switch {
	case rep.Accepted == 0 || rep.Deliveries == 0:
		t.Errorf("nothing accepted or delivered: %+v", rep)
	case rep.Lost != 0 || rep.Duplicates != 0 || rep.Unacked != 0 || rep.Unexpected != 0 || rep.OutOfOrder != 0:
		t.Errorf("deliveries wrong: %+v", rep)
	case rep.Expected != rep.Accepted*int64(rep.Members-1):
		t.Errorf("expected %d deliveries for %d accepted in chats of %d", rep.Expected, rep.Accepted, rep.Members)
	case rep.AckLatency.P50 <= 0 || rep.AckLatency.Max < rep.AckLatency.P99 || rep.DeliveryLatency.P50 <= 0:
		t.Errorf("latencies: ack %+v, delivery %+v", rep.AckLatency, rep.DeliveryLatency)
	}
	for _, n := range rep.Errors {
		if n != 0 {
			t.Errorf("errors: %s", loadgen.FormatErrors(rep.Errors))
			break
		}
	}
}

func TestBench_FlatOut(t *testing.T) {
	url := startBenchServer(t)
	var rep loadgen.Report
	stderr, err := runBench(t, t.Context(), &rep, "-url", url, "-chats", "3", "-members", "4", "-duration", "1s", "-window", "8", "-size", "100")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	checkDelivered(t, &rep)
	if rep.Users != 12 || rep.Senders != 12 || rep.Sent != rep.Accepted {
		t.Errorf("users %d senders %d sent %d accepted %d", rep.Users, rep.Senders, rep.Sent, rep.Accepted)
	}
	if !strings.Contains(stderr, "accepted/s") {
		t.Errorf("no progress line on stderr: %q", stderr)
	}
}

func TestBench_Rate(t *testing.T) {
	url := startBenchServer(t)
	var rep loadgen.Report
	stderr, err := runBench(t, t.Context(), &rep, "-url", url, "-users", "10", "-chats", "2", "-senders", "6", "-rate", "200", "-duration", "1s")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	checkDelivered(t, &rep)
	if rep.Members != 5 || rep.Senders != 6 {
		t.Errorf("-users 10 -chats 2 made %d members, %d senders", rep.Members, rep.Senders)
	}
	if rep.AcceptedPerSec < 140 || rep.AcceptedPerSec > 260 {
		t.Errorf("accepted %.0f/s at -rate 200", rep.AcceptedPerSec)
	}
}

// TestBench_Nodes spreads the users over three nodes of one cluster: each
// chat has a member on every node, so most deliveries come through
// another node than the sender's, and each must still arrive exactly once
// and in the log's order.
func TestBench_Nodes(t *testing.T) {
	urls, upgrades := startBenchNodes(t, 3)
	list := strings.Join(urls, ",")
	var rep loadgen.Report
	stderr, err := runBench(t, t.Context(), &rep, "-url", list, "-chats", "2", "-members", "3", "-duration", "1s", "-window", "4")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	checkDelivered(t, &rep)
	if rep.URL != list {
		t.Errorf("report's url %q, want %q", rep.URL, list)
	}
	for i, n := range upgrades {
		if n.Load() != 2 {
			t.Errorf("node %d had %d connections, want 2 of the 6 users", i, n.Load())
		}
	}
}

func TestBench_Idle(t *testing.T) {
	url := startBenchServer(t)
	var rep loadgen.IdleReport
	stderr, err := runBench(t, t.Context(), &rep, "-url", url, "-idle", "50", "-duration", "300ms")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if rep.Requested != 50 || rep.Opened != 50 || rep.Failed != 0 || rep.Dropped != 0 || rep.RSSBefore != 0 || rep.BytesPerConn != 0 {
		t.Errorf("report %+v", rep)
	}
}

// TestBench_Interrupted cancels the run while it sends: it stops and still
// reports a consistent run.
func TestBench_Interrupted(t *testing.T) {
	url := startBenchServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
	defer cancel()
	var rep loadgen.Report
	start := time.Now()
	stderr, err := runBench(t, ctx, &rep, "-url", url, "-chats", "2", "-members", "3", "-duration", "1m")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v after the interruption", d)
	}
	if !rep.Interrupted {
		t.Error("report not marked interrupted")
	}
	checkDelivered(t, &rep)
}

func TestBench_BadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "7", "-chats", "2"},
		{"-users", "12", "-chats", "3", "-members", "5"},
		{"-members", "1"},
		{"-senders", "101"},
		{"-window", "0"},
		{"-rate", "-1"},
		{"-duration", "0s"},
		{"-server-pid", "1"},
		{"-idle", "2", "-server-pid", "1", "-url", "ws://127.0.0.1:1/ws,ws://127.0.0.1:2/ws"},
		{"-url", " , "},
		{"-nope"},
		{"extra"},
	} {
		err := (&BenchCommand{Stdout: io.Discard, Stderr: io.Discard}).Run(t.Context(), args)
		if !errorsAs(err, new(*usageError)) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

// TestBench_Unreachable fails the setup with an error, not a report.
func TestBench_Unreachable(t *testing.T) {
	hs := httptest.NewServer(nil)
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	hs.Close()
	var out bytes.Buffer
	err := (&BenchCommand{Stdout: &out, Stderr: io.Discard}).Run(t.Context(), []string{"-url", url, "-chats", "1", "-members", "2", "-duration", "1s"})
	if err == nil || out.Len() != 0 {
		t.Fatalf("got %v and %q, want an error and no report", err, out.String())
	}
}
