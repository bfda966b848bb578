package wsapi

import (
	"github.com/chateau/chateau/projection"
	"github.com/gorilla/websocket"
	"strconv"
	"time"
)

// op is what connections hand to the sequencer.
type op interface{ client() *client }

// requestOp carries one decoded frame.
type requestOp struct {
	c *client
	r *request
}

// goneOp says the connection's reader has stopped; it follows every
// requestOp of that connection.
type goneOp struct{ c *client }

func (o requestOp) client() *client { return o.c }
func (o goneOp) client() *client    { return o.c }

// step is one thing to do once the batch is stored, in arrival order: send
// a ready answer, answer and deliver an event, or close a connection.
type step struct {
	c     *client
	r     *request // the request answered, or nil for a notice or a close
	frame []byte   // a ready answer, or nil
	event int      // index into sequencer.events, or -1
	gone  bool     // close the connection
	retry bool     // r repeats the request that stored event: answer only
	job   job      // a detached answer to run after the frames before it
	// status is the answer's status, for the metrics; an event's step
	// gets it when the batch is stored.
	status int
	// closeText is the close frame's reason when gone.
	closeText string
}

// sequencer decides every request, appends the batch's events in one log
// transaction, and then answers and delivers in log order. It runs in one
// goroutine, the only one that writes Server.State; so it reads State
// without the lock.
type sequencer struct {
	s      *Server
	online map[string]*client // registered connections by username

	steps   []step
	events  []projection.Event
	data    [][]byte
	pending map[receiptKey]int // events in the batch by their request's messageID
	barrier bool               // an event in the batch changes what later requests may do
	next    op                 // an op fill left to start the next batch (waitsForBatch)
	queued  []*client          // connections with frames queued and writers not woken

	stats commitStats
}

// commitStats sums up the group commits, for the log line at shutdown.
type commitStats struct {
	commits, events, maxBatch int
	time                      time.Duration
}

// receiptKey identifies a request for retries: its user and messageID.
type receiptKey struct{ user, messageID string }

func newSequencer(s *Server) *sequencer {
	return &sequencer{s: s, online: make(map[string]*client), pending: make(map[receiptKey]int)}
}

// run takes every op waiting, up to a batch, stores and answers them, and
// repeats until the server stops. While one batch is being fsynced the next
// one queues up in Server.ops: that is the group commit, with no timer.
func (q *sequencer) run() {
	for {
		o, ok := q.take()
		if !ok {
			return
		}
		q.handle(o)
		q.fill()
		q.flush()
	}
}

// take returns the op that starts the next batch: the one fill left for
// it, or the next to arrive. Once the server stops it returns what is
// still waiting, then false.
func (q *sequencer) take() (op, bool) {
	if o := q.next; o != nil {
		q.next = nil
		return o, true
	}
	select {
	case o := <-q.s.ops:
		return o, true
	case <-q.s.stop:
		select {
		case o := <-q.s.ops:
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
	for !q.barrier && len(q.steps) < q.s.MaxBatch {
		select {
		case o := <-q.s.ops:
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
//   - a request that reads what its connection wrote earlier in the batch
//     (history, chat list, client list): a connection's requests see the
//     effects of its earlier ones, whatever the batching.
func (q *sequencer) waitsForBatch(o op) bool {
	r, ok := o.(requestOp)
	if !ok {
		return false
	}
	switch r.r.kind {
	case typeRegister:
		return true
	case typeHistory, typeChatList, typeClientList:
		return r.c.wrote
	}
	return false
}

func (q *sequencer) handle(o op) {
	switch o := o.(type) {
	case requestOp:
		q.decide(o.c, o.r)
	case handoffOp:
		q.handoff(o)
	case goneOp:
		if o.c.user != "" && q.online[o.c.user] == o.c {
			delete(q.online, o.c.user)
		}
		q.steps = append(q.steps, step{c: o.c, event: -1, gone: true})
	}
}

// answer queues a ready frame for c.
func (q *sequencer) answer(c *client, r *request, b []byte) {
	q.steps = append(q.steps, step{c: c, r: r, frame: b, event: -1, status: StatusOK})
}

func (q *sequencer) fail(c *client, r *request, err error) {
	q.steps = append(q.steps, step{c: c, r: r, frame: errorFrame(r, err), event: -1, status: statusOf(err)})
}

// requestLabel is a request type as a metrics label; unknown types share one.
func requestLabel(kind string) string {
	if kind == "" {
		return "invalid"
	}
	return kind
}

// propose adds an event to the batch, answered after the append.
func (q *sequencer) propose(c *client, r *request, p projection.Payload, barrier bool) {
	e := projection.Event{Actor: c.user, RequestID: string(r.messageID), Payload: p}
	if u, ok := p.(projection.UserRegistered); ok {
		e.Actor = u.Username
	}
	data, err := projection.Encode(e)
	if err != nil {
		q.s.Logger.Error("encode event", "err", err)
		q.fail(c, r, ErrStorage)
		return
	}
	if e.RequestID != "" {
		q.pending[receiptKey{c.user, e.RequestID}] = len(q.events)
	}
	q.steps = append(q.steps, step{c: c, r: r, event: len(q.events), status: StatusOK})
	c.wrote = true
	q.events = append(q.events, e)
	q.data = append(q.data, data)
	q.barrier = q.barrier || barrier
}

// flush appends the batch's events in one transaction, applies them to the
// state, and then walks the steps in order: answers, deliveries, closes.
func (q *sequencer) flush() {
	defer func() {
		q.wake()
		q.s.Metrics.Online.Set(float64(len(q.online)))
		clear(q.steps)
		clear(q.events)
		clear(q.data)
		clear(q.pending)
		q.steps, q.events, q.data, q.barrier = q.steps[:0], q.events[:0], q.data[:0], false
	}()
	stored := false
	if len(q.data) > 0 {
		start := time.Now()
		ids, err := q.s.Log.Append(q.data...)
		took := time.Since(start)
		q.s.Metrics.CommitSeconds.Observe(took.Seconds())
		if err != nil {
			q.s.Logger.Error("append failed", "events", len(q.data), "err", err)
		} else {
			stored = true
			q.s.Metrics.Events.Add(float64(len(ids)))
			q.s.Metrics.BatchEvents.Observe(float64(len(ids)))
			q.stats.commits++
			q.stats.events += len(ids)
			q.stats.maxBatch = max(q.stats.maxBatch, len(ids))
			q.stats.time += took
			q.s.stateMu.Lock()
			for i := range q.events {
				q.events[i].ID = ids[i]
				if err := q.s.State.Apply(q.events[i]); err != nil {
					// The event was checked before the append; this is a bug.
					q.s.Logger.Error("apply stored event", "id", ids[i], "err", err)
				}
			}
			q.s.stateMu.Unlock()
		}
	}
	now := time.Now()
	for _, st := range q.steps {
		st.c.wrote = false
		if st.r != nil {
			<-st.c.pending // the request is answered below
			status := st.status
			if st.event >= 0 && !stored {
				status = StatusInternal
			}
			label := requestLabel(st.r.kind)
			q.s.Metrics.Requests.WithLabelValues(label, strconv.Itoa(status)).Inc()
			q.s.Metrics.RequestSeconds.WithLabelValues(label).Observe(now.Sub(st.r.received).Seconds())
		}
		switch {
		case st.gone:
			st.c.close(goneCode(st.c, q.s.closing.Load()), st.closeText, true)
		case st.frame != nil:
			q.send(st.c, st.frame)
		case st.job != nil:
			q.detach(st.c, st.job)
		case !stored:
			q.send(st.c, errorFrame(st.r, ErrStorage))
		case st.retry:
			q.send(st.c, ackFrame(st.r, q.events[st.event]))
		default:
			q.deliver(st.c, st.r, q.events[st.event])
		}
	}
}

// goneCode is the close code for a connection whose reader has stopped:
// the client's own code echoed if it sent a close frame (RFC 6455 5.5.1),
// else 1001 while the server shuts down, else 1000.
func goneCode(c *client, shuttingDown bool) int {
	switch {
	case c.clientCode != 0:
		return c.clientCode
	case shuttingDown:
		return websocket.CloseGoingAway
	}
	return websocket.CloseNormalClosure
}

// deliver answers the sender of a stored event and sends it to every other
// member or recipient who is online.
func (q *sequencer) deliver(c *client, r *request, e projection.Event) {
	if u, ok := e.Payload.(projection.UserRegistered); ok {
		q.login(c, u.Username)
		q.send(c, ackFrame(r, e))
		if r.hasSince {
			// Messages can reach a name only after it exists: there is
			// nothing to replay but the ReplayComplete.
			q.detach(c, q.s.replay(c.user, r, e.ID))
		}
		return
	}
	q.send(c, ackFrame(r, e))
	var to []string
	switch p := e.Payload.(type) {
	case projection.ChatCreated:
		to = p.Members
	case projection.GroupMessagePosted:
		chat, _ := q.s.State.Chat(p.Chat)
		to = chat.Members
	case projection.DirectMessageSent:
		to = []string{p.Recipient}
	default:
		return
	}
	var b []byte
	for _, name := range to {
		if other := q.online[name]; other != nil && name != e.Actor {
			if b == nil {
				b = deliveryFrame(e, false)
			}
			q.send(other, b)
			q.s.Metrics.Deliveries.Inc()
		}
	}
}
