// Package chat is Chateau's chat core: it decides every request against the
// projections, stores the resulting events in the log, and answers and
// delivers in log order. It knows no sockets: a transport (package wsapi)
// decodes requests, hands them to a Session, and sends the frames the core
// gives its Peer.
//
// One goroutine, the sequencer, owns every decision and every append: it
// takes all requests waiting at a time, stores their events in one log
// transaction (group commit), then answers and delivers in log order. So
// all members of a chat see its messages in the same order, the log's, and
// no answer or delivery ever precedes the fsync.
//
// On a SharedLog the core is one node of a cluster (shared.go): the
// sequencer also applies and delivers the records other nodes store, in
// the log's order, and leaves to the log what no node's memory can decide
// alone: a new name, and a request retried on another node.
package chat

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// Log is what the core needs of the event log; *eventlog.Log is one.
type Log interface {
	// Append stores data as new events in one transaction and returns their
	// ids; on error nothing is stored.
	Append(data ...[]byte) ([]ulid.ULID, error)
	// Scan calls fn for each record after the given id, in log order.
	Scan(after ulid.ULID, fn func(eventlog.Record) error) error
	// Get calls fn for the record of each id, in the order given.
	Get(ids []ulid.ULID, fn func(eventlog.Record) error) error
}

// Rewriter is a Log that can rewrite stored records in the transaction of
// an append (*eventlog.Log can). On such a log a deletion erases the
// content it deletes; a log that cannot (a cluster's stream) keeps it, and
// the core only stops showing it.
type Rewriter interface {
	AppendRewriting(rewrites []eventlog.Rewrite, data ...[]byte) ([]ulid.ULID, error)
}

// DefaultMaxBatch is the default of Core.MaxBatch.
const DefaultMaxBatch = 1024

// Core is the chat core. Set its fields, call Start, open a Session per
// connection, and call Stop once every session has ended. Fields must not
// change after Start.
type Core struct {
	// Log stores the events; State must already reflect all of it (Rebuild).
	Log   Log
	State *projection.State
	// Encode writes a frame as the transport sends it. The core encodes a
	// delivery once for all its recipients. The frame is passed by value:
	// through a func value a pointer would make every frame a heap
	// allocation.
	Encode func(Frame) []byte
	Logger *slog.Logger
	// Metrics receive the core's counts; nil means unregistered ones.
	Metrics *Metrics
	// MaxBatch bounds the events stored in one log transaction.
	MaxBatch int
	// RequirePassword refuses (401) registrations without a password.
	RequirePassword bool
	// PasswordCost is the Argon2id cost of new password hashes; zero
	// means projection's default.
	PasswordCost projection.PasswordCost
	// Now is the clock of the login throttle and of the typing limit; nil
	// means time.Now.
	Now func() time.Time
	// Presence shares who is online with the other nodes of a cluster;
	// nil means this node is alone. A cluster's Log is a SharedLog.
	Presence Presence
	// Broadcast carries typing notices to the other nodes of a cluster;
	// nil means this node is alone.
	Broadcast Broadcast

	throttle *loginThrottle // refuses password attempts after wrong ones (throttle.go)
	hashes   *hashQueue     // bounds password hashing, running and waiting (login.go)

	stateMu sync.RWMutex // guards State: the sequencer writes, sessions read

	// On a shared log: the log, and a channel closed and replaced each
	// time the sequencer has applied its records (freshState).
	shared    SharedLog
	appliedMu sync.Mutex
	applied   chan struct{}

	ops     chan op        // to the sequencer, in arrival order per session
	jobs    sync.WaitGroup // detached answers running (history.go)
	stop    chan struct{}  // closed to stop the sequencer
	stopped chan struct{}  // closed when the sequencer has returned
}

// Start fills in defaults and starts the sequencer.
func (c *Core) Start() {
	if c.Encode == nil {
		panic("chat: Core.Encode is not set")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.throttle = newLoginThrottle(defaultThrottlePolicy())
	c.hashes = newHashQueue(runtime.GOMAXPROCS(0))
	c.shared, _ = c.Log.(SharedLog)
	c.applied = make(chan struct{})
	c.ops = make(chan op, c.MaxBatch)
	c.stop = make(chan struct{})
	c.stopped = make(chan struct{})
	seq := newSequencer(c)
	go func() {
		defer close(c.stopped)
		seq.run()
		seq.stats.log(c.Logger)
	}()
}

// Stop waits for the detached answers still running, lets the sequencer
// store and answer what it has received, and stops it. Every Session must
// have ended (End) first. The caller closes the log afterwards.
func (c *Core) Stop() {
	c.jobs.Wait()
	close(c.stop)
	<-c.stopped
}

// View calls fn with the state, which does not change during the call.
// fn must not keep st or call back into the Core.
func (c *Core) View(fn func(st *projection.State)) {
	c.stateMu.RLock()
	defer c.stateMu.RUnlock()
	fn(c.State)
}

// Rebuild returns the state of everything in l, applying each event in
// log order. progress, if not nil, is called every 100,000 events.
func Rebuild(l Log, progress func(events int)) (*projection.State, error) {
	st := projection.NewState()
	if sl, ok := l.(SharedLog); ok {
		if err := rebuildShared(sl, st, progress); err != nil {
			return nil, fmt.Errorf("rebuild projections: %w", err)
		}
		return st, nil
	}
	n := 0
	err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		if err := st.ApplyEncoded(rec.ID, rec.Data); err != nil {
			return err
		}
		n++
		if progress != nil && n%100_000 == 0 {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild projections: %w", err)
	}
	return st, nil
}
