package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/loadgen"
	"github.com/chateau/chateau/wsapi"
)

// startBenchServer serves a real chat.Core and wsapi.Server, without a rate limit, on a
// new log in t.TempDir, and returns its WebSocket URL. The test's cleanup
// stops it.
func startBenchServer(t *testing.T) string {
	t.Helper()
	l, _, err := eventlog.Open(filepath.Join(t.TempDir(), "chateau.db"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	state, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	core := &chat.Core{Log: l, State: state, Encode: wsapi.Encode}
	core.Start()
	s := &wsapi.Server{Core: core, RateLimit: 0}
	s.Start()
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		core.Stop()
		if err := l.Close(); err != nil {
			t.Errorf("close log: %v", err)
		}
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
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
