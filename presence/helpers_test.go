package presence_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/presence"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if goroutines outlive them: a
// Presence's own, once closed, or the servers'.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Short heartbeats for tests, so that a dead node is noticed within a
// second or so.
const (
	fastHeartbeat = 200 * time.Millisecond
	fastNodeTTL   = time.Second
)

// waitLimit bounds every wait for something to arrive or appear.
const waitLimit = 10 * time.Second

// fast returns Options with the short heartbeats.
func fast() presence.Options {
	return presence.Options{Heartbeat: fastHeartbeat, NodeTTL: fastNodeTTL}
}

// node is one Chateau node in a test: its own connection to NATS and its
// Presence.
type node struct {
	nc *nats.Conn
	p  *presence.Presence
}

// mustOpen connects to url and opens a Presence on the connection; when
// the test ends it closes both, the Presence first.
func mustOpen(t testing.TB, url string, opt presence.Options, connOpts ...nats.Option) *node {
	t.Helper()
	n, err := open(t, url, opt, connOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// open is mustOpen that returns its error.
func open(t testing.TB, url string, opt presence.Options, connOpts ...nats.Option) (*node, error) {
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	p, err := presence.Open(ctx, nc, opt)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open presence: %w", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close presence: %v", err)
		}
		nc.Close()
	})
	return &node{nc: nc, p: p}, nil
}

// closeNow closes the nodes' Presences before the test ends. A test that
// restarts a server needs it: the restarted server's cleanup runs before
// the nodes' (opened earlier), and Close would wait for a server that is
// gone.
func closeNow(t testing.TB, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		if err := n.p.Close(); err != nil {
			t.Errorf("close presence: %v", err)
		}
	}
}

// mustClaim claims name on n and fails the test unless the claim's outcome
// is want.
func mustClaim(t testing.TB, n *node, name string, takeover, want bool) {
	t.Helper()
	got, err := n.p.Claim(name, takeover)
	if err != nil {
		t.Fatalf("Claim(%q, %v): %v", name, takeover, err)
	}
	if got != want {
		t.Fatalf("Claim(%q, %v) = %v, want %v", name, takeover, got, want)
	}
}

// eventually polls cond until it holds, and fails the test if it does not
// within waitLimit. It returns how long it waited.
func eventually(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > waitLimit {
			t.Fatalf("after %v: %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// seesOnline says whether n's Others lists name.
func seesOnline(n *node, name string) func() bool {
	return func() bool { return slices.Contains(n.p.Others(), name) }
}

// seesOffline says whether n's Others does not list name.
func seesOffline(n *node, name string) func() bool {
	return func() bool { return !slices.Contains(n.p.Others(), name) }
}

// mustLose waits for name on n's Lost channel.
func mustLose(t testing.TB, n *node, name string) {
	t.Helper()
	select {
	case got, ok := <-n.p.Lost():
		if !ok {
			t.Fatalf("Lost closed, want %q", name)
		}
		if got != name {
			t.Fatalf("Lost delivered %q, want %q", got, name)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Lost delivered nothing in %v, want %q", waitLimit, name)
	}
}

// race claims each name from both nodes at once, without takeover, and
// fails the test unless exactly one of the two claims of each name wins.
func race(t *testing.T, a, b *node, names []string) {
	t.Helper()
	type result struct {
		name string
		won  bool
		err  error
	}
	results := make(chan result, 2*len(names))
	for _, name := range names {
		start := make(chan struct{})
		for _, n := range []*node{a, b} {
			go func() {
				<-start
				won, err := n.p.Claim(name, false)
				results <- result{name, won, err}
			}()
		}
		close(start)
	}
	wins := make(map[string]int)
	for range 2 * len(names) {
		r := <-results
		if r.err != nil {
			t.Errorf("Claim(%q): %v", r.name, r.err)
		}
		if r.won {
			wins[r.name]++
		}
	}
	for _, name := range names {
		if wins[name] != 1 {
			t.Errorf("%q: %d claims won, want exactly 1", name, wins[name])
		}
	}
}

// logSignal is a slog.Handler that sends the message of each warning or
// error on its channel, for tests that wait for what a Presence logs. It
// drops a message when the channel is full.
type logSignal chan string

func (h logSignal) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h logSignal) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h logSignal) WithGroup(string) slog.Handler                { return h }

func (h logSignal) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}
	return nil
}

// waitLog waits for a message that begins with prefix on logs.
func waitLog(t testing.TB, logs logSignal, prefix string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case msg := <-logs:
			if strings.HasPrefix(msg, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("no log %q in %v", prefix, waitLimit)
		}
	}
}
