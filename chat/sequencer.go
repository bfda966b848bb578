package chat

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// op is what sessions hand to the sequencer.
type op interface{ session() *Session }

// requestOp carries one decoded request.
type requestOp struct {
	s *Session
	r *Request
}

// goneOp says the session's reader has stopped; it follows every
// requestOp of that session.
type goneOp struct{ s *Session }

// readyOp says the shared log has records the node has not applied.
type readyOp struct{}

// lostOp says another node took name over (Presence.Lost).
type lostOp struct{ name string }

func (o requestOp) session() *Session { return o.s }
func (o goneOp) session() *Session    { return o.s }
func (readyOp) session() *Session     { return nil }
func (lostOp) session() *Session      { return nil }

// step is one thing to do once the batch is stored, in arrival order: send
// a ready answer, answer and deliver an event, or close a connection.
type step struct {
	s     *Session
	r     *Request // the request answered, or nil for a notice or a close
	frame []byte   // a ready answer, or nil
	event int      // index into sequencer.events, or -1
	close bool     // close the connection, for why
	why   Close
	retry bool // r repeats the request that stored event: answer only
	// silent: r is done and gets no answer (a TypingRequest).
	silent bool
	job    job // a detached answer to run after the frames before it
	// status is the answer's status, for the metrics; an event's step
	// gets it when the batch is stored.
	status int
}

// sequencer decides every request, appends the batch's events in one log
// transaction, and then answers and delivers in log order. It runs in one
// goroutine, the only one that writes Core.State; so it reads State
// without the lock.
type sequencer struct {
	c      *Core
	online map[string]*Session // registered sessions by username

	steps   []step
	events  []projection.Event
	data    [][]byte
	pending map[receiptKey]int // events in the batch by their request's messageID
	// rewrites erase the records that the batch's deletions delete.
	rewrites []eventlog.Rewrite
	barrier  bool       // an event in the batch changes what later requests may do
	next     op         // an op fill left to start the next batch (waitsForBatch)
	queued   []*Session // sessions with frames sent and peers not flushed

	// On a shared log (shared.go): the log, records read past the batch
	// being stored, which events of the batch the log refused, when the
	// last Sync started, and whether the next op waits for one.
	shared   SharedLog
	later    []eventlog.Record
	dropped  []bool
	syncedAt time.Time
	needSync bool
	syncErr  error

	// Notices (notice.go): who typed where when, and who is online on
	// the other nodes, as last seen.
	typed  map[typingNotice]time.Time
	remote map[string]bool
	tick   *time.Ticker // every presenceRefresh, on a cluster

	flushing bool // flush is sending the batch's steps

	stats commitStats
}

// commitStats sums up the group commits, for the log line at shutdown.
type commitStats struct {
	commits, events, maxBatch int
	time                      time.Duration
}

// log writes the summary of the group commits.
func (st commitStats) log(logger *slog.Logger) {
	mean, meanCommit := 0.0, time.Duration(0)
	if st.commits > 0 {
		mean, meanCommit = float64(st.events)/float64(st.commits), st.time/time.Duration(st.commits)
	}
	logger.Info("group commit", "commits", st.commits, "events", st.events,
		"mean_batch", fmt.Sprintf("%.1f", mean), "max_batch", st.maxBatch, "mean_commit", meanCommit)
}

// receiptKey identifies a request for retries: its user and messageID.
type receiptKey struct{ user, messageID string }

func newSequencer(c *Core) *sequencer {
	return &sequencer{c: c, online: make(map[string]*Session), pending: make(map[receiptKey]int), shared: c.shared,
		typed: make(map[typingNotice]time.Time), remote: make(map[string]bool)}
}

// run takes every op waiting, up to a batch, stores and answers them, and
// repeats until the core stops. While one batch is being fsynced the next
// one queues up in Core.ops: that is the group commit, with no timer.
func (q *sequencer) run() {
	if q.c.Presence != nil {
		q.tick = time.NewTicker(presenceRefresh)
		defer q.tick.Stop()
	}
	for {
		o, ok := q.take()
		if !ok {
			return
		}
		if q.needSync {
			q.needSync = false
			q.syncErr = q.sync()
		}
		q.handle(o)
		q.syncErr = nil
		q.fill()
		q.flush()
	}
}

// take returns the op that starts the next batch: the one fill left for
// it, records of other nodes, a name another node took over, or the next
// request to arrive. Once the core stops it returns what is still
// waiting, then false.
func (q *sequencer) take() (op, bool) {
	if o := q.next; o != nil {
		q.next = nil
		return o, true
	}
	if len(q.later) > 0 {
		return readyOp{}, true
	}
	var ready <-chan struct{}
	if q.shared != nil {
		ready = q.shared.Ready()
	}
	var lost <-chan string
	var changed <-chan struct{}
	var tick <-chan time.Time
	if q.c.Presence != nil {
		lost, changed, tick = q.c.Presence.Lost(), q.c.Presence.Changed(), q.tick.C
	}
	var typing <-chan []byte
	if q.c.Broadcast != nil {
		typing = q.c.Broadcast.Received()
	}
	select {
	case o := <-q.c.ops:
		return o, true
	case <-ready:
		return readyOp{}, true
	case name := <-lost:
		return lostOp{name}, true
	case <-changed:
		return presenceOp{}, true
	case <-tick:
		return presenceOp{}, true
	case b := <-typing:
		return typingOp{b}, true
	case <-q.c.stop:
		select {
		case o := <-q.c.ops:
			return o, true
		default:
			return nil, false
		}
	}
}

// fill takes waiting ops until none is left, the batch is full, an event in
// it changes what later requests may do (barrier), or an op must be decided
// after the batch is stored (waitsForBatch), which then starts the next one.
func (q *sequencer) fill() {
	for !q.barrier && q.next == nil && len(q.steps) < q.c.MaxBatch {
		select {
		case o := <-q.c.ops:
			if q.waitsForBatch(o) {
				q.next = o
				return
			}
			q.handle(o)
		default:
			return
		}
	}
}

// waitsForBatch reports whether o must be decided after the events of the
// batch so far are stored and delivered:
//   - a RegisterRequest, so that a new session gets nothing of the batch
//     before its RegisterResponse (deliveries go to who is online at the
//     flush);
//   - a change of a chat's members, so that each message of the batch is
//     delivered to the members it was stored for (deliveries go to the
//     members at the flush); it also ends its batch (barrier);
//   - a deletion, so that every edit it erases is stored (deleteMessage);
//   - a request that reads what its session wrote earlier in the batch
//     (history, chat list, client list): a session's requests see the
//     effects of its earlier ones, whatever the batching.
func (q *sequencer) waitsForBatch(o op) bool {
	if _, ok := o.(settleOp); ok {
		return true
	}
	r, ok := o.(requestOp)
	if !ok {
		return false
	}
	switch r.r.Kind {
	case TypeRegister, TypeChatInvite, TypeChatLeave, TypeDeleteMessage:
		return true
	case TypeHistory, TypeChatList, TypeClientList:
		return r.s.wrote
	}
	return false
}

func (q *sequencer) handle(o op) {
	switch o := o.(type) {
	case requestOp:
		q.decide(o.s, o.r)
	case handoffOp:
		q.handoff(o)
	case settleOp:
		o.reply <- o.s.user
	case goneOp:
		if o.s.user != "" && q.online[o.s.user] == o.s {
			q.logout(o.s.user)
		}
		q.steps = append(q.steps, step{s: o.s, event: -1, close: true, why: CloseGone})
	case readyOp:
		q.catchUp(ulid.ULID{})
	case lostOp:
		if old := q.online[o.name]; old != nil {
			q.replace(old)
		}
		q.remote[o.name] = true // held by the node that took it
	case presenceOp:
		q.refreshRemote()
	case typingOp:
		q.foreignTyping(o.data)
	}
}

// answer queues a ready frame for s.
func (q *sequencer) answer(s *Session, r *Request, f Frame) {
	q.steps = append(q.steps, step{s: s, r: r, frame: q.c.Encode(f), event: -1, status: StatusOK})
}

// fail answers r with err. On a shared log, a 404 or 403 may only say
// that this node has not yet read what another node stored: r is then
// decided again, first in the next batch, after a Sync (unsure).
func (q *sequencer) fail(s *Session, r *Request, err error) {
	switch {
	case !stateDependent(err):
	case q.syncErr != nil:
		err = fmt.Errorf("%w: the cluster's log did not answer", ErrStorage)
	case q.unsure(r):
		q.next, q.needSync = requestOp{s: s, r: r}, true
		return
	}
	q.steps = append(q.steps, step{s: s, r: r, frame: q.c.Encode(errorFrame(r, err)), event: -1, status: StatusOf(err)})
}

// requestLabel is a request type as a metrics label; unknown types share one.
func requestLabel(kind string) string {
	if kind == "" {
		return "invalid"
	}
	return kind
}

// propose adds an event to the batch, answered after the append.
func (q *sequencer) propose(s *Session, r *Request, p projection.Payload, barrier bool) {
	e := projection.Event{Actor: s.user, RequestID: string(r.MessageID), Payload: p}
	if u, ok := p.(projection.UserRegistered); ok {
		e.Actor = u.Username
	}
	data, err := projection.Encode(e)
	if err != nil {
		q.c.Logger.Error("encode event", "err", err)
		q.fail(s, r, ErrStorage)
		return
	}
	if e.RequestID != "" {
		q.pending[receiptKey{s.user, e.RequestID}] = len(q.events)
	}
	q.steps = append(q.steps, step{s: s, r: r, event: len(q.events), status: StatusOK})
	s.wrote = true
	q.events = append(q.events, e)
	q.data = append(q.data, data)
	q.barrier = q.barrier || barrier
}

// flush stores the batch's events, and then walks the steps in order:
// answers, deliveries, closes.
func (q *sequencer) flush() {
	stored := len(q.data) > 0 && q.store()
	now := time.Now()
	q.flushing = true
	defer func() { q.flushing = false }()
	for _, st := range q.steps {
		st.s.wrote = false
		if st.r != nil {
			<-st.s.window // the request is answered below
			q.count(st, stored, now)
		}
		switch {
		case st.close:
			st.s.peer.Close(st.why)
		case st.silent:
		case st.frame != nil:
			q.send(st.s, st.frame)
		case st.job != nil:
			q.detach(st.s, st.job)
		case !stored:
			q.unclaim(q.events[st.event])
			q.send(st.s, q.c.Encode(errorFrame(st.r, ErrStorage)))
		case st.retry:
			q.send(st.s, q.c.Encode(ackOf(q.c.State, st.r, q.events[st.event])))
		default:
			q.deliver(st.s, st.r, q.events[st.event])
		}
	}
	q.wake()
	q.c.Metrics.Online.Set(float64(len(q.online)))
	clear(q.steps)
	clear(q.events)
	clear(q.data)
	clear(q.pending)
	q.steps, q.events, q.data, q.barrier, q.dropped, q.rewrites = q.steps[:0], q.events[:0], q.data[:0], false, nil, nil
}

// store appends the batch's events in one transaction and applies them to
// the state; it reports false, leaving the state alone, if the append
// failed.
func (q *sequencer) store() bool {
	start := time.Now()
	var ids []ulid.ULID
	var err error
	rw, rewrites := q.c.Log.(Rewriter)
	switch {
	case q.shared != nil:
		ids, err = q.publish()
	case rewrites && len(q.rewrites) > 0:
		ids, err = rw.AppendRewriting(q.rewrites, q.data...)
	default:
		ids, err = q.c.Log.Append(q.data...)
	}
	took := time.Since(start)
	q.c.Metrics.CommitSeconds.Observe(took.Seconds())
	if err != nil {
		q.c.Logger.Error("append failed", "events", len(q.data), "err", err)
		return false
	}
	q.c.Metrics.Events.Add(float64(len(ids)))
	q.c.Metrics.BatchEvents.Observe(float64(len(ids)))
	q.stats.commits++
	q.stats.events += len(ids)
	q.stats.maxBatch = max(q.stats.maxBatch, len(ids))
	q.stats.time += took
	q.c.stateMu.Lock()
	defer q.c.stateMu.Unlock()
	for i := range q.events {
		if q.dropped != nil && q.dropped[i] {
			continue
		}
		q.events[i].ID, ids = ids[0], ids[1:]
		if err := q.c.State.Apply(q.events[i]); err != nil {
			// The event was checked before the append; this is a bug.
			q.c.Logger.Error("apply stored event", "id", q.events[i].ID, "err", err)
		}
	}
	if q.shared != nil {
		q.c.tellApplied()
	}
	return true
}

// count counts the answer to st's request in the metrics.
func (q *sequencer) count(st step, stored bool, now time.Time) {
	status := st.status
	if st.event >= 0 && !stored {
		status = StatusInternal
	}
	label := requestLabel(st.r.Kind)
	q.c.Metrics.Requests.WithLabelValues(label, strconv.Itoa(status)).Inc()
	q.c.Metrics.RequestSeconds.WithLabelValues(label).Observe(now.Sub(st.r.Received).Seconds())
}

// deliver answers the sender of a stored event and sends it to every other
// member or recipient who is online here.
func (q *sequencer) deliver(s *Session, r *Request, e projection.Event) {
	if u, ok := e.Payload.(projection.UserRegistered); ok {
		q.login(s, u.Username)
		q.send(s, q.c.Encode(Ack(r, e)))
		if r.HasSince {
			// Messages can reach a name only after it exists: there is
			// nothing to replay but the ReplayComplete.
			q.detach(s, q.c.replay(s.user, r, e.ID))
		}
		return
	}
	q.send(s, q.c.Encode(ackOf(q.c.State, r, e)))
	q.fanOut(e)
}

// fanOut sends a stored event to every member or recipient online here
// but its actor, encoded once for all of them.
func (q *sequencer) fanOut(e projection.Event) {
	var b []byte
	for _, name := range audience(q.c.State, e) {
		if other := q.online[name]; other != nil && name != e.Actor {
			if b == nil {
				f, ok := deliveryOf(q.c.State, e, false)
				if !ok {
					return
				}
				b = q.c.Encode(f)
			}
			q.send(other, b)
			q.c.Metrics.Deliveries.Inc()
		}
	}
}
