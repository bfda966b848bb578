package wsapi

import (
	"math/rand/v2"
	"slices"

	"github.com/chateau/chateau/projection"
	"github.com/gorilla/websocket"
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
		select {
		case o := <-q.s.ops:
			q.handle(o)
			q.fill()
			q.flush()
		case <-q.s.stop:
			for {
				select {
				case o := <-q.s.ops:
					q.handle(o)
					q.fill()
					q.flush()
				default:
					return
				}
			}
		}
	}
}

// fill takes waiting ops until none is left, the batch is full, or an op
// needs its event stored before the next one is decided.
func (q *sequencer) fill() {
	for !q.barrier && len(q.steps) < q.s.MaxBatch {
		select {
		case o := <-q.s.ops:
			q.handle(o)
		default:
			return
		}
	}
}

func (q *sequencer) handle(o op) {
	switch o := o.(type) {
	case requestOp:
		q.decide(o.c, o.r)
	case goneOp:
		if o.c.user != "" && q.online[o.c.user] == o.c {
			delete(q.online, o.c.user)
		}
		q.steps = append(q.steps, step{c: o.c, event: -1, gone: true})
	}
}

// answer queues a ready frame for c.
func (q *sequencer) answer(c *client, r *request, b []byte) {
	q.steps = append(q.steps, step{c: c, r: r, frame: b, event: -1})
}

func (q *sequencer) fail(c *client, r *request, err error) {
	q.answer(c, r, errorFrame(r, err))
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
	q.steps = append(q.steps, step{c: c, r: r, event: len(q.events)})
	q.events = append(q.events, e)
	q.data = append(q.data, data)
	q.barrier = q.barrier || barrier
}

// decide checks r against the connection and the state and either answers
// it at once or proposes its event.
func (q *sequencer) decide(c *client, r *request) {
	switch {
	case r.kind != "" && r.kind != typeRegister && c.user == "":
		q.fail(c, r, reasonf(ErrNotRegistered, "register first: send a RegisterRequest"))
		return
	case r.err != nil:
		q.fail(c, r, r.err)
		return
	case len(r.messageID) > 0 && r.kind != typeRegister && r.kind != typeClientList:
		if q.retried(c, r) {
			return
		}
	}
	switch r.kind {
	case typeRegister:
		// Deliveries of the batch so far go to whoever is online when it
		// is flushed: store and send them first, so that a new session
		// gets nothing before its RegisterResponse.
		if len(q.steps) > 0 {
			q.flush()
		}
		q.register(c, r)
	case typeGroupMessageInit:
		q.groupMessageInit(c, r)
	case typeGroupMessage:
		q.groupMessage(c, r)
	case typeClientList:
		names := make([]string, 0, len(q.online))
		for name := range q.online {
			names = append(names, name)
		}
		slices.Sort(names)
		q.answer(c, r, encode(&frame{Type: frameClientList, Status: StatusOK, MessageID: r.messageID, Clients: names}))
	case typeRandomMessage:
		q.randomMessage(c, r)
	case typeSingleMessage:
		q.singleMessage(c, r)
	}
}

// retried answers r as the request with the same messageID that c's user
// sent before, if there is one, and reports whether it did. The original
// answer comes again, and nothing is stored or delivered twice.
func (q *sequencer) retried(c *client, r *request) bool {
	if e, ok := q.s.State.Receipt(c.user, string(r.messageID)); ok {
		q.answer(c, r, ackFrame(r, e))
		return true
	}
	if i, ok := q.pending[receiptKey{c.user, string(r.messageID)}]; ok {
		q.steps = append(q.steps, step{c: c, r: r, event: i, retry: true})
		return true
	}
	return false
}

func (q *sequencer) register(c *client, r *request) {
	switch {
	case c.user != "":
		q.fail(c, r, reasonf(ErrConflict, "this connection is already registered as %q", c.user))
		return
	case !projection.ValidUsername(r.username):
		q.fail(c, r, reasonf(ErrBadRequest, "username must be 1-%d characters of A-Z, a-z, 0-9, _ . -", projection.MaxUsernameLen))
		return
	case q.s.RequirePassword && r.password == "":
		q.fail(c, r, reasonf(ErrUnauthorized, unauthorized))
		return
	}
	u, exists := q.s.State.User(r.username)
	switch {
	case !exists:
		// A new name; with a password, the reader has hashed it.
		q.propose(c, r, projection.UserRegistered{Username: r.username, PasswordHash: r.passwordHash}, true)
		return
	case u.Protected():
		// The reader checked the password against the hash it saw, and a
		// name's hash never changes: the check stands.
		if r.verifiedHash == nil {
			q.fail(c, r, reasonf(ErrUnauthorized, unauthorized))
			return
		}
		if old := q.online[r.username]; old != nil {
			q.replace(old)
		}
	case q.online[r.username] != nil:
		q.fail(c, r, reasonf(ErrConflict, "%q is online on another connection", r.username))
		return
	}
	q.login(c, r.username)
	q.answer(c, r, encode(&frame{Type: frameRegister, Status: StatusOK, MessageID: r.messageID, Username: r.username}))
}

// unauthorized is the one reason given for every 401, so that it tells
// nothing about whether the name exists or is protected.
const unauthorized = "wrong username or password"

// replace signs old out because its user has registered from another
// connection with the password: old is told, then closed.
func (q *sequencer) replace(old *client) {
	delete(q.online, old.user)
	q.answer(old, nil, encode(&frame{Type: frameSessionReplaced, Status: StatusOK, Username: old.user,
		Reason: "you signed in from another connection"}))
	q.steps = append(q.steps, step{c: old, event: -1, gone: true, closeText: "session replaced"})
	old.user = ""
}

// dropSlow takes a client that could not keep up offline at once, so that
// nothing more is queued for it while its connection closes.
func (q *sequencer) dropSlow(c *client) {
	if c.user != "" && q.online[c.user] == c {
		delete(q.online, c.user)
		q.s.Logger.Warn("connection closed: too slow", "conn", c.id, "user", c.user)
	}
	c.user = ""
}

func (q *sequencer) login(c *client, name string) {
	c.user = name
	q.online[name] = c
}

func (q *sequencer) groupMessageInit(c *client, r *request) {
	switch {
	case len(r.recipients) == 0:
		q.fail(c, r, reasonf(ErrBadRequest, "recipients must name at least one user"))
		return
	case len(r.recipients) > maxRecipients:
		q.fail(c, r, reasonf(ErrBadRequest, "recipients name %d users; the limit is %d", len(r.recipients), maxRecipients))
		return
	case !projection.ValidChatname(r.chatname):
		q.fail(c, r, reasonf(ErrBadRequest, "chatname must be 1-%d characters without control characters", projection.MaxChatnameLen))
		return
	}
	for _, name := range r.recipients {
		if !projection.ValidUsername(name) {
			q.fail(c, r, reasonf(ErrBadRequest, "recipient %q is not a valid username", truncate(name, 64)))
			return
		}
	}
	if _, ok := q.s.State.Chat(r.chatname); ok {
		q.fail(c, r, reasonf(ErrConflict, "chat %q already exists", r.chatname))
		return
	}
	for _, name := range r.recipients {
		if _, ok := q.s.State.User(name); !ok {
			q.fail(c, r, reasonf(ErrNotFound, "recipient %q has never registered", name))
			return
		}
	}
	members := append(slices.Clone(r.recipients), c.user)
	slices.Sort(members)
	members = slices.Compact(members)
	q.propose(c, r, projection.ChatCreated{Chat: r.chatname, Members: members, Content: r.content}, true)
}

func (q *sequencer) groupMessage(c *client, r *request) {
	if !projection.ValidChatname(r.chatname) {
		q.fail(c, r, reasonf(ErrBadRequest, "chatname must be 1-%d characters without control characters", projection.MaxChatnameLen))
		return
	}
	chat, ok := q.s.State.Chat(r.chatname)
	switch {
	case !ok:
		q.fail(c, r, reasonf(ErrNotFound, "chat %q does not exist", r.chatname))
		return
	case !chat.HasMember(c.user):
		q.fail(c, r, reasonf(ErrForbidden, "you are not a member of chat %q", r.chatname))
		return
	}
	q.propose(c, r, projection.GroupMessagePosted{Chat: r.chatname, Content: r.content}, false)
}

func (q *sequencer) randomMessage(c *client, r *request) {
	others := make([]string, 0, len(q.online))
	for name := range q.online {
		if name != c.user {
			others = append(others, name)
		}
	}
	if len(others) == 0 {
		q.fail(c, r, reasonf(ErrNotFound, "nobody else is online"))
		return
	}
	to := others[rand.IntN(len(others))]
	q.propose(c, r, projection.DirectMessageSent{Recipient: to, Content: r.content, Random: true}, false)
}

func (q *sequencer) singleMessage(c *client, r *request) {
	switch {
	case !projection.ValidUsername(r.recipient):
		q.fail(c, r, reasonf(ErrBadRequest, "recipient %q is not a valid username", truncate(r.recipient, 64)))
		return
	case r.recipient == c.user:
		q.fail(c, r, reasonf(ErrBadRequest, "you cannot send a message to yourself"))
		return
	}
	if _, ok := q.s.State.User(r.recipient); !ok {
		q.fail(c, r, reasonf(ErrNotFound, "recipient %q has never registered", r.recipient))
		return
	}
	q.propose(c, r, projection.DirectMessageSent{Recipient: r.recipient, Content: r.content}, false)
}

// flush appends the batch's events in one transaction, applies them to the
// state, and then walks the steps in order: answers, deliveries, closes.
func (q *sequencer) flush() {
	defer func() {
		clear(q.steps)
		clear(q.events)
		clear(q.data)
		clear(q.pending)
		q.steps, q.events, q.data, q.barrier = q.steps[:0], q.events[:0], q.data[:0], false
	}()
	stored := false
	if len(q.data) > 0 {
		ids, err := q.s.Log.Append(q.data...)
		if err != nil {
			q.s.Logger.Error("append failed", "events", len(q.data), "err", err)
		} else {
			stored = true
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
	for _, st := range q.steps {
		if st.r != nil {
			<-st.c.pending // the request is answered below
		}
		switch {
		case st.gone:
			code := websocket.CloseNormalClosure
			if q.s.closing.Load() {
				code = websocket.CloseGoingAway
			}
			st.c.close(code, st.closeText, true)
		case st.frame != nil:
			st.c.enqueue(st.frame)
		case !stored:
			st.c.enqueue(errorFrame(st.r, ErrStorage))
		case st.retry:
			st.c.enqueue(ackFrame(st.r, q.events[st.event]))
		default:
			q.deliver(st.c, st.r, q.events[st.event])
		}
	}
}

// deliver answers the sender of a stored event and sends it to every other
// member or recipient who is online.
func (q *sequencer) deliver(c *client, r *request, e projection.Event) {
	if u, ok := e.Payload.(projection.UserRegistered); ok {
		q.login(c, u.Username)
	}
	c.enqueue(ackFrame(r, e))
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
				b = deliveryFrame(e)
			}
			if !other.enqueue(b) {
				q.dropSlow(other)
			}
		}
	}
}
