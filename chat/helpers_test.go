package chat_test

import (
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for a frame in these tests.
const waitFor = 5 * time.Second

// testCore is a started core on a real log in t.TempDir.
type testCore struct {
	*chat.Core
	t        *testing.T
	log      *eventlog.Log
	shared   chat.SharedLog // a node's log, for startNode's tests
	mu       sync.Mutex
	sessions []*chat.Session
	nextID   uint64
}

// startCore starts a core on a new log, configured by configure, and
// stops it, ending every session opened, when the test ends.
func startCore(t *testing.T, configure ...func(*chat.Core)) *testCore {
	t.Helper()
	l, _, err := eventlog.Open(filepath.Join(t.TempDir(), "chateau.db"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tc := startOn(t, l, []func() error{l.Close}, configure...)
	tc.log = l
	return tc
}

// startOn starts a core on l, configured by configure. When the test
// ends it ends every session opened, stops the core, then calls closers
// in order.
func startOn(t *testing.T, l chat.Log, closers []func() error, configure ...func(*chat.Core)) *testCore {
	t.Helper()
	state, err := chat.Rebuild(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &chat.Core{Log: l, State: state, Encode: encodeJSON,
		PasswordCost: projection.PasswordCost{Time: 1, MemoryKiB: 64}}
	for _, f := range configure {
		f(c)
	}
	c.Start()
	tc := &testCore{Core: c, t: t}
	t.Cleanup(func() {
		for _, s := range tc.sessions {
			s.End()
		}
		c.Stop()
		for _, closeOne := range closers {
			_ = closeOne()
		}
	})
	return tc
}

// encodeJSON is the tests' transport encoding: the Frame as encoding/json
// writes it, field names as in Go, read back by recorder.
func encodeJSON(f chat.Frame) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

// recorder is a chat.Peer that keeps what the core sends it: presence
// changes apart, so that tests of other things need not expect them.
type recorder struct {
	t        *testing.T
	frames   chan chat.Frame
	presence chan chat.Frame
	closed   chan chat.Close
	// refuse makes Send report that the connection does not keep up.
	refuse bool
}

func (r *recorder) Send(b []byte) bool {
	if r.refuse {
		return false
	}
	return r.Push(b)
}

func (r *recorder) Flush() {}

func (r *recorder) Push(b []byte) bool {
	var f chat.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		r.t.Errorf("frame %q: %v", b, err)
	}
	to := r.frames
	if f.Type == chat.FramePresenceChanged {
		to = r.presence
	}
	select {
	case to <- f:
		return true
	default:
		r.t.Errorf("recorder full: %+v", f)
		return false
	}
}

// Close records the first reason a session was closed for; a replaced
// session is closed again when the test ends its sessions.
func (r *recorder) Close(why chat.Close) {
	select {
	case r.closed <- why:
	default:
	}
}

// session is a session of a test core with the peer it sends to.
type session struct {
	*chat.Session
	peer *recorder
}

// open opens a session on a new recorder.
func (tc *testCore) open() *session {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.nextID++
	p := &recorder{t: tc.t, frames: make(chan chat.Frame, 1024), presence: make(chan chat.Frame, 1024), closed: make(chan chat.Close, 1)}
	s := tc.Open(p, chat.Conn{ID: tc.nextID, Addr: "127.0.0.1:1", Window: 64, MaxHeld: 4096})
	tc.sessions = append(tc.sessions, s)
	return &session{Session: s, peer: p}
}

// register opens a session and registers name on it.
func (tc *testCore) register(name string) *session {
	tc.t.Helper()
	s := tc.open()
	s.expect(tc.t, &chat.Request{Kind: chat.TypeRegister, Username: name}, chat.FrameRegister, chat.StatusOK)
	return s
}

// next returns the next frame sent to s.
func (s *session) next(t *testing.T) chat.Frame {
	t.Helper()
	select {
	case f := <-s.peer.frames:
		return f
	case <-time.After(waitFor):
		t.Fatalf("no frame within %v", waitFor)
	}
	return chat.Frame{}
}

// expect submits r and checks the answer's type and status.
func (s *session) expect(t *testing.T, r *chat.Request, typ string, status int) chat.Frame {
	t.Helper()
	r.Received = time.Now()
	s.Submit(r)
	f := s.next(t)
	if f.Type != typ || f.Status != status {
		t.Fatalf("%s: got %s %d (%s), want %s %d", r.Kind, f.Type, f.Status, f.Reason, typ, status)
	}
	return f
}

// nothingQueued checks that s has no frame waiting, once the core has
// answered a request of s's sent after everything before.
func (s *session) nothingQueued(t *testing.T) {
	t.Helper()
	s.expect(t, &chat.Request{Kind: chat.TypeClientList, MessageID: json.RawMessage(`"sync"`)}, chat.FrameClientList, chat.StatusOK)
}
