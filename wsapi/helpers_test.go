package wsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/wsapi"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for a frame in these tests.
const waitFor = 5 * time.Second

// mustOpenLog opens a log on a new file in t.TempDir and checks and closes
// it when the test ends.
func mustOpenLog(t testing.TB) (*eventlog.Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chateau.db")
	return mustReopenLog(t, path), path
}

// mustReopenLog opens the log at path, to be closed by the test's cleanup.
func mustReopenLog(t testing.TB, path string) *eventlog.Log {
	t.Helper()
	l, _, err := eventlog.Open(path, eventlog.Options{})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Check(); err != nil && err != eventlog.ErrClosed {
			t.Errorf("bbolt check: %v", err)
		}
		_ = l.Close()
	})
	return l
}

// testServer is a chat core and a wsapi.Server behind a real httptest
// server, as `chateau serve` wires them.
type testServer struct {
	*wsapi.Server
	core *chat.Core
	http *httptest.Server
	url  string
}

// startServer rebuilds the state from l and serves it until stop or the
// end of the test. Each of configure is a func(*wsapi.Server) or a
// func(*chat.Core), called before they start.
func startServer(t testing.TB, l chat.Log, configure ...any) *testServer {
	t.Helper()
	state, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	core := &chat.Core{Log: l, State: state, Encode: wsapi.Encode}
	if n, ok := l.(*node); ok {
		core.Presence, core.Broadcast = n.presence, n.broadcast
		core.MaxBatch = jetlog.MaxBatch
	}
	s := &wsapi.Server{Core: core}
	for _, f := range configure {
		switch f := f.(type) {
		case func(*wsapi.Server):
			f(s)
		case func(*chat.Core):
			f(core)
		default:
			t.Fatalf("startServer: cannot configure with %T", f)
		}
	}
	core.Start()
	s.Start()
	ts := &testServer{Server: s, core: core, http: httptest.NewServer(s)}
	ts.url = "ws" + strings.TrimPrefix(ts.http.URL, "http")
	t.Cleanup(ts.stop)
	return ts
}

// stop shuts the server down, then the core; it may be called more than
// once.
func (ts *testServer) stop() {
	if ts.http == nil {
		return
	}
	ts.http.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = ts.Shutdown(ctx)
	ts.core.Stop()
	ts.http = nil
}

// openConns is the number of open connections, from the server's gauge.
func (ts *testServer) openConns() int {
	return int(counted(ts.Metrics.Connections))
}

// counted is the value of a gauge or counter.
func counted(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// conn is a test client on a real WebSocket. It reads past PresenceChanged
// frames, which most tests do not look at, unless keepPresence is set.
type conn struct {
	t            testing.TB
	ws           *websocket.Conn
	keepPresence bool
}

func dial(t testing.TB, ts *testServer) *conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(ts.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return &conn{t: t, ws: ws}
}

// register dials and registers name, failing the test unless it gets 200.
func register(t testing.TB, ts *testServer, name string) *conn {
	t.Helper()
	c := dial(t, ts)
	c.send(msg{"type": "RegisterRequest", "username": name})
	c.expect("RegisterResponse", 200)
	return c
}

type msg map[string]any

func (c *conn) send(m msg) {
	c.t.Helper()
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("send %v: %v", m, err)
	}
}

func (c *conn) sendRaw(kind int, b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(kind, b); err != nil {
		c.t.Fatalf("send raw: %v", err)
	}
}

// recv reads the next frame, failing the test after waitFor.
func (c *conn) recv() msg {
	c.t.Helper()
	m, err := c.tryRecv(waitFor)
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return m
}

func (c *conn) tryRecv(d time.Duration) (msg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("server sent invalid JSON %q: %v", b, err)
		}
		if c.keepPresence || m["type"] != "PresenceChanged" {
			return m, nil
		}
	}
}

// expect reads the next frame and checks its type and status.
func (c *conn) expect(typ string, status int) msg {
	c.t.Helper()
	m := c.recv()
	if m["type"] != typ || m["status"] != float64(status) {
		c.t.Fatalf("got %v, want type %s status %d", m, typ, status)
	}
	return m
}

// expectNothingQueued checks that no frame is waiting for c. The server
// queues a message's deliveries in the same step as its acknowledgement,
// before it takes the next request; so once the sender has its ack, a
// ClientListRequest from c is answered after any delivery to c.
func (c *conn) expectNothingQueued() {
	c.t.Helper()
	c.send(msg{"type": "ClientListRequest", "messageID": "sync"})
	if m := c.recv(); m["type"] != "ClientListResponse" || m["messageID"] != "sync" {
		c.t.Fatalf("unexpected frame %v", m)
	}
}

// roundTrip sends m and returns the answer.
func (c *conn) roundTrip(m msg) msg {
	c.t.Helper()
	c.send(m)
	return c.recv()
}

// readUntilClose reads frames until the connection ends and returns them
// with the close code. A connection that ends without a close frame
// counts as 1006, as in the WebSocket API; a read timeout fails the test.
func (c *conn) readUntilClose() ([]msg, int) {
	c.t.Helper()
	var frames []msg
	for {
		m, err := c.tryRecv(waitFor)
		if err != nil {
			var ce *websocket.CloseError
			var ne net.Error
			switch {
			case errors.As(err, &ce):
				return frames, ce.Code
			case errors.As(err, &ne) && ne.Timeout():
				c.t.Fatalf("no close within %v after %d frames", waitFor, len(frames))
			}
			return frames, websocket.CloseAbnormalClosure
		}
		frames = append(frames, m)
	}
}
