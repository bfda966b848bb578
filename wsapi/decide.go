package wsapi

import (
	"math/rand/v2"
	"slices"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

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
	case len(r.messageID) > 0 && isMessage(r.kind):
		if q.retried(c, r) {
			return
		}
	}
	switch r.kind {
	case typeRegister:
		// First in its batch: see waitsForBatch.
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
	case typeChatList:
		q.chatList(c, r)
	case typeHistory:
		q.history(c, r)
	}
}

// isMessage reports whether requests of kind store a message, and so are
// deduplicated by messageID.
func isMessage(kind string) bool {
	switch kind {
	case typeGroupMessageInit, typeGroupMessage, typeRandomMessage, typeSingleMessage:
		return true
	}
	return false
}

// retried answers r as the request with the same messageID that c's user
// sent before, if there is one, and reports whether it did. The original
// answer comes again, and nothing is stored or delivered twice.
func (q *sequencer) retried(c *client, r *request) bool {
	if id, ok := q.s.State.Receipt(c.user, string(r.messageID)); ok {
		// The answer is rebuilt from the stored event, read off the
		// sequencer like a history page.
		q.steps = append(q.steps, step{c: c, r: r, event: -1, status: StatusOK, job: q.s.reanswer(c.user, r, id)})
		return true
	}
	if i, ok := q.pending[receiptKey{c.user, string(r.messageID)}]; ok {
		q.steps = append(q.steps, step{c: c, r: r, event: i, retry: true, status: StatusOK})
		c.wrote = true // its reads wait for the original's batch
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
	q.answer(c, r, encode(&frame{Type: frameRegister, Status: StatusOK, MessageID: r.messageID, Username: r.username,
		LastID: idString(q.s.State.Last())}))
	if r.hasSince {
		// Everything stored so far is replayed; what is stored from now on
		// is delivered live, held back until the replay is done.
		q.steps = append(q.steps, step{c: c, event: -1, job: q.s.replay(c.user, r, q.s.State.Last())})
	}
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
		q.s.Metrics.SlowDisconnects.Inc()
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
	if q.checkMember(c, r) {
		q.propose(c, r, projection.GroupMessagePosted{Chat: r.chatname, Content: r.content}, false)
	}
}

// checkMember reports whether r.chatname names a chat c's user belongs to,
// answering r with 400, 404 or 403 if not.
func (q *sequencer) checkMember(c *client, r *request) bool {
	if !projection.ValidChatname(r.chatname) {
		q.fail(c, r, reasonf(ErrBadRequest, "chatname must be 1-%d characters without control characters", projection.MaxChatnameLen))
		return false
	}
	chat, ok := q.s.State.Chat(r.chatname)
	switch {
	case !ok:
		q.fail(c, r, reasonf(ErrNotFound, "chat %q does not exist", r.chatname))
		return false
	case !chat.HasMember(c.user):
		q.fail(c, r, reasonf(ErrForbidden, "you are not a member of chat %q", r.chatname))
		return false
	}
	return true
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

// idString is id as a string, or "" for the zero id (an empty log).
func idString(id ulid.ULID) string {
	if id == (ulid.ULID{}) {
		return ""
	}
	return id.String()
}
