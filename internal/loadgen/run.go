// Package loadgen drives load at a running Chateau server, or at several
// nodes of one cluster, over real WebSockets and measures what comes back:
// acknowledgement and delivery latency, throughput, errors, and whether
// every acknowledged message reached every other member of its chat
// exactly once. It also measures what idle connections cost the server
// (Idle).
//
// The exactly-once accounting is per sender and member, whichever node
// answers the one or delivers to the other: a sender's node acknowledges
// its message, and each member's own node delivers it, in the log's
// order, after or before that acknowledgement. Ids are the log's, the
// same on every node, so the order check holds across nodes too.
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// setupConcurrency bounds the connections being opened at once, so that a
// large run does not overflow the server's listen backlog.
const setupConcurrency = 200

// Config describes a load run. Users are Chats*Members: chat c's members
// are users c*Members to (c+1)*Members-1, so members are distinct.
type Config struct {
	// URLs are the /ws endpoints: one server's, or those of several nodes
	// of one cluster. User i connects to URLs[i mod len(URLs)], so that a
	// chat's members, and the senders, are spread over the nodes.
	URLs []string
	// Run is the prefix of the run's names: letters, digits, "_", "." and
	// "-"; empty: random.
	Run     string
	Chats   int
	Members int // per chat, at least 2
	// Senders is how many users send; they are spread over the chats
	// round-robin. The others only listen.
	Senders int
	// Rate is the total messages per second over all senders, scheduled by
	// the clock whatever the answers (open loop); 0 sends flat out, each
	// sender as fast as its window allows (closed loop).
	Rate     float64
	Duration time.Duration // of sending
	// Drain bounds the wait, after sending, for answers and deliveries.
	Drain time.Duration
	// Window bounds each sender's requests in flight. In open loop, a send
	// due while the window is full is skipped and counted as "window full".
	Window int
	Size   int // content bytes; at least what the time stamp needs
	// Progress, if set, gets a line a second while the run lasts.
	Progress io.Writer
}

// runner is the state of one load run.
type runner struct {
	cfg        Config
	users      []*user
	namePrefix string // of every user's name, before its index
	chatNames  []string
	errs       *errorCounts

	sent, accepted atomic.Int64
	inflight       atomic.Int64 // sent and not answered
	expected       atomic.Int64 // deliveries owed, for the drain
}

// delivered returns the deliveries so far, and of them the first receipts
// of a message by a member. Each user counts its own, as the readers
// would contend on shared counters.
func (r *runner) delivered() (deliveries, unique int64) {
	for _, u := range r.users {
		deliveries += u.deliveries.Load()
		unique += u.unique.Load()
	}
	return deliveries, unique
}

// Run sets up cfg's users and chats on the server, sends for cfg.Duration,
// waits for the rest, and reports. If ctx ends while sending, it stops and
// reports what happened so far (Interrupted); if it ends or anything fails
// during setup, it returns an error and no report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if len(cfg.URLs) == 0 || cfg.Chats < 1 || cfg.Members < 2 || cfg.Senders < 0 || cfg.Senders > cfg.Chats*cfg.Members ||
		cfg.Rate < 0 || cfg.Duration <= 0 || cfg.Drain < 0 || cfg.Window < 1 || cfg.Size < 1 ||
		!plainName(cfg.Run) {
		return nil, fmt.Errorf("loadgen: invalid config %+v", cfg)
	}
	if cfg.Senders == 0 {
		cfg.Senders = cfg.Chats * cfg.Members
	}
	if cfg.Run == "" {
		cfg.Run = RandomRun()
	}
	r := &runner{cfg: cfg, errs: newErrorCounts("429", "500", "window full")}
	conns, err := r.setup(ctx)
	if err != nil {
		closeConns(conns)
		return nil, fmt.Errorf("setup: %w", err)
	}
	for _, u := range r.users {
		u.startReader(func(data []byte) { u.handle(r, data) })
	}

	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(progressDone)
		r.progress(start, stopProgress)
	}()
	stopped, interrupted := r.sendAll(ctx, start)
	seconds := stopped.Sub(start).Seconds()
	r.drain(ctx, interrupted)
	close(stopProgress)
	<-progressDone
	closeConns(conns)
	return r.report(seconds, interrupted), nil
}

// RandomRun returns a fresh run prefix, so that runs on one server do not
// collide on names.
func RandomRun() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// nodeURL returns the endpoint of connection i: the URLs round-robin.
func nodeURL(urls []string, i int) string {
	return urls[i%len(urls)]
}

// plainName reports whether run is made of the characters that usernames
// allow, none of which needs escaping in JSON: requests are written by
// hand.
func plainName(run string) bool {
	for _, c := range []byte(run) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// userNamed returns the user called name, or nil. Names are the prefix and
// the index, so this is cheaper than a map lookup for every delivery.
func (r *runner) userNamed(name []byte) *user {
	if len(name) < len(r.namePrefix) || string(name[:len(r.namePrefix)]) != r.namePrefix {
		return nil
	}
	i, ok := parseDecimal(name[len(r.namePrefix):])
	if !ok || i >= uint64(len(r.users)) || string(name) != r.users[i].name {
		return nil // "007" parses, but is no user's index
	}
	return r.users[i]
}

// setup registers the users and creates the chats, and returns the
// connections opened, also on error, for the caller to close.
func (r *runner) setup(ctx context.Context) ([]*conn, error) {
	n, m := r.cfg.Chats*r.cfg.Members, r.cfg.Members
	r.users = make([]*user, n)
	conns := make([]*conn, n)
	r.namePrefix = "bench-" + r.cfg.Run + "-"
	for i := range n {
		r.users[i] = &user{
			name:     r.namePrefix + strconv.Itoa(i),
			chat:     i / m,
			pos:      i % m,
			window:   make(chan struct{}, r.cfg.Window),
			inflight: make(map[uint64]time.Time, r.cfg.Window),
			recv:     make([][]uint8, m),
		}
	}
	d := newDialer(loadReadBuffer(n))
	err := forEach(ctx, n, setupConcurrency, func(i int) error {
		c, err := dialRegister(ctx, d, nodeURL(r.cfg.URLs, i), r.users[i].name)
		if err != nil {
			return err
		}
		r.users[i].conn, conns[i] = c, c
		return nil
	})
	if err != nil {
		return conns, err
	}
	// Whatever the chat creations deliver waits in the members' sockets
	// until their readers start, or on a cluster may reach a member's node
	// after that; the readers ignore it.
	r.chatNames = make([]string, r.cfg.Chats)
	for c := range r.chatNames {
		r.chatNames[c] = fmt.Sprintf("bench-%s-%d", r.cfg.Run, c)
	}
	err = forEach(ctx, r.cfg.Chats, setupConcurrency, func(c int) error {
		members := r.users[c*m : (c+1)*m]
		req := fmt.Appendf(nil, `{"type":"GroupMessageInitRequest","chatname":%q,"recipients":[`, r.chatNames[c])
		for i, u := range members[1:] {
			if i > 0 {
				req = append(req, ',')
			}
			req = fmt.Appendf(req, "%q", u.name)
		}
		req = append(req, `],"content":"bench"}`...)
		if err := members[0].call(req, "GroupMessageInitResponse"); err != nil {
			return fmt.Errorf("create chat %s: %w", r.chatNames[c], err)
		}
		return nil
	})
	return conns, err
}

// sendAll runs the senders from start for the configured duration or until
// ctx ends. It returns when the senders have stopped, with the time they
// were told to and whether ctx ended it.
func (r *runner) sendAll(ctx context.Context, start time.Time) (stopped time.Time, interrupted bool) {
	stop := make(chan struct{})
	end := start.Add(r.cfg.Duration)
	var wg sync.WaitGroup
	for k := range r.cfg.Senders {
		// Sender k is member k/Chats of chat k%Chats: any number of senders
		// spreads over all chats.
		u := r.users[(k%r.cfg.Chats)*r.cfg.Members+k/r.cfg.Chats]
		wg.Go(func() {
			if r.cfg.Rate > 0 {
				r.sendPaced(u, k, start, end, stop)
			} else {
				r.sendFlat(u, stop)
			}
		})
	}
	timer := time.NewTimer(r.cfg.Duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		interrupted = true
	}
	stopped = time.Now()
	close(stop)
	wg.Wait()
	return stopped, interrupted
}

// sendFlat sends as fast as u's window allows, until stop.
func (r *runner) sendFlat(u *user, stop <-chan struct{}) {
	var buf []byte
	var err error
	for seq := uint64(1); ; seq++ {
		select {
		case u.window <- struct{}{}:
		case <-stop:
			return
		}
		select {
		case <-stop:
			<-u.window
			return
		default:
		}
		now := time.Now()
		if buf, err = u.send(r, seq, now, now, buf); err != nil {
			return
		}
	}
}

// sendPaced sends sender k's share of the total rate: message n of the
// whole run is due n/Rate seconds after start, and sender k sends messages
// k, k+Senders, k+2*Senders... until end or stop.
func (r *runner) sendPaced(u *user, k int, start, end time.Time, stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var buf []byte
	var err error
	seq := uint64(1)
	for n := k; ; n += r.cfg.Senders {
		due := start.Add(time.Duration(float64(n) / r.cfg.Rate * float64(time.Second)))
		if !due.Before(end) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-stop:
				return
			}
		}
		select {
		case <-stop:
			return
		case u.window <- struct{}{}:
			if buf, err = u.send(r, seq, due, time.Now(), buf); err != nil {
				return
			}
			seq++
		default:
			r.errs.add("window full", 1)
		}
	}
}

// drain waits until every message sent is answered and every delivery owed
// has come, for at most cfg.Drain, or a second once ctx has ended.
func (r *runner) drain(ctx context.Context, interrupted bool) {
	wait := r.cfg.Drain
	if interrupted {
		wait = min(wait, time.Second)
	}
	deadline := time.Now().Add(wait)
	for {
		// In this order: with nothing in flight, expected is final.
		if r.inflight.Load() == 0 {
			if _, unique := r.delivered(); unique >= r.expected.Load() {
				return
			}
		}
		now := time.Now()
		if ctx.Err() != nil && now.Add(time.Second).Before(deadline) {
			deadline = now.Add(time.Second)
		}
		if !now.Before(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
