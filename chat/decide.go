package chat

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/chateau/chateau/projection"
)

// decide checks r against the connection and the state and either answers
// it at once or proposes its event.
func (q *sequencer) decide(s *Session, r *Request) {
	switch {
	case r.Kind != "" && r.Kind != TypeRegister && s.user == "":
		q.fail(s, r, Reasonf(ErrNotRegistered, "register first: send a RegisterRequest"))
		return
	case r.Err != nil:
		q.fail(s, r, r.Err)
		return
	case hasContent(r.Kind) && strings.TrimSpace(r.Content) == "":
		q.fail(s, r, Reasonf(ErrBadRequest, "content must not be empty or only whitespace"))
		return
	case len(r.MessageID) > 0 && storesEvent(r.Kind):
		if q.retried(s, r) {
			return
		}
	}
	switch r.Kind {
	case TypeRegister:
		// First in its batch: see waitsForBatch.
		q.register(s, r)
	case TypeGroupMessageInit:
		q.groupMessageInit(s, r)
	case TypeGroupMessage:
		q.groupMessage(s, r)
	case TypeClientList:
		q.clientList(s, r)
	case TypeRandomMessage:
		q.randomMessage(s, r)
	case TypeSingleMessage:
		q.singleMessage(s, r)
	case TypeChatList:
		q.chatList(s, r)
	case TypeHistory:
		q.history(s, r)
	default:
		q.decideChange(s, r)
	}
}

// decideChange decides the requests that change what was stored before:
// read markers, members, messages, typing and passwords.
func (q *sequencer) decideChange(s *Session, r *Request) {
	switch r.Kind {
	case TypeMarkRead:
		q.markRead(s, r)
	case TypeChatInvite:
		q.chatInvite(s, r)
	case TypeChatLeave:
		q.chatLeave(s, r)
	case TypeEditMessage:
		q.editMessage(s, r)
	case TypeDeleteMessage:
		q.deleteMessage(s, r)
	case TypeTyping:
		q.typing(s, r)
	case TypeChangePassword:
		q.changePassword(s, r)
	}
}

// clientList answers a ClientListRequest: who is online, sorted.
func (q *sequencer) clientList(s *Session, r *Request) {
	q.answer(s, r, Frame{Type: FrameClientList, Status: StatusOK, MessageID: r.MessageID, Clients: q.everyoneOnline()})
}

// everyoneOnline returns who is online, here and on the other nodes,
// sorted.
func (q *sequencer) everyoneOnline() []string {
	names := make([]string, 0, len(q.online))
	for name := range q.online {
		names = append(names, name)
	}
	if q.c.Presence != nil {
		names = append(names, q.c.Presence.Others()...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// hasContent reports whether requests of kind carry a message's content.
func hasContent(kind string) bool {
	switch kind {
	case TypeGroupMessageInit, TypeGroupMessage, TypeRandomMessage, TypeSingleMessage, TypeEditMessage:
		return true
	}
	return false
}

// storesEvent reports whether requests of kind store an event, and so are
// deduplicated by messageID. A registration is not: a second one is a new
// session.
func storesEvent(kind string) bool {
	switch kind {
	case TypeGroupMessageInit, TypeGroupMessage, TypeRandomMessage, TypeSingleMessage, TypeMarkRead,
		TypeChatInvite, TypeChatLeave, TypeEditMessage, TypeDeleteMessage, TypeChangePassword:
		return true
	}
	return false
}

// retried answers r as the request with the same messageID that c's user
// sent before, if there is one, and reports whether it did. The original
// answer comes again, and nothing is stored or delivered twice.
func (q *sequencer) retried(s *Session, r *Request) bool {
	if id, ok := q.c.State.Receipt(s.user, string(r.MessageID)); ok {
		// The answer is rebuilt from the stored event, read off the
		// sequencer like a history page.
		q.steps = append(q.steps, step{s: s, r: r, event: -1, status: StatusOK, job: q.c.reanswer(s.user, r, id)})
		return true
	}
	if i, ok := q.pending[receiptKey{s.user, string(r.MessageID)}]; ok {
		q.steps = append(q.steps, step{s: s, r: r, event: i, retry: true, status: StatusOK})
		s.wrote = true // its reads wait for the original's batch
		return true
	}
	return false
}

func (q *sequencer) register(s *Session, r *Request) {
	switch {
	case s.user != "":
		q.fail(s, r, Reasonf(ErrConflict, "this connection is already registered as %q", s.user))
		return
	case !projection.ValidUsername(r.Username):
		q.fail(s, r, Reasonf(ErrBadRequest, "username must be 1-%d characters of A-Z, a-z, 0-9, _ . -", projection.MaxUsernameBytes))
		return
	case q.c.RequirePassword && r.Password == "":
		q.fail(s, r, Reasonf(ErrUnauthorized, unauthorized))
		return
	}
	u, exists := q.c.State.User(r.Username)
	wasOnline := q.isOnline(r.Username)
	switch {
	case !exists:
		// A new name; with a password, the reader has hashed it. In a
		// cluster the name is claimed first, so that of two nodes
		// registering it at once the one that loses the claim answers
		// 302 rather than sign in to the name the other creates.
		if q.claimFor(s, r, false) {
			q.propose(s, r, projection.UserRegistered{Username: r.Username, PasswordHash: r.passwordHash}, true)
		}
		return
	case u.Protected():
		// The reader checked the password against the hash it saw; the
		// check stands if the name's hash has not changed since.
		if r.verifiedHash == nil || !bytes.Equal(r.verifiedHash, u.PasswordHash) {
			q.fail(s, r, Reasonf(ErrUnauthorized, unauthorized))
			return
		}
		if old := q.online[r.Username]; old != nil {
			q.replace(old)
		} else if !q.claimFor(s, r, true) {
			return
		}
	case q.online[r.Username] != nil:
		q.fail(s, r, errOnline(r.Username))
		return
	case !q.claimFor(s, r, false):
		return
	}
	q.login(s, r.Username)
	if !wasOnline {
		q.announce(r.Username, true)
	}
	q.answer(s, r, Frame{Type: FrameRegister, Status: StatusOK, MessageID: r.MessageID, Username: r.Username,
		LastID: q.c.State.Last()})
	if r.HasSince {
		// Everything stored so far is replayed; what is stored from now on
		// is delivered live, held back until the replay is done.
		q.steps = append(q.steps, step{s: s, event: -1, job: q.c.replay(s.user, r, q.c.State.Last())})
	}
}

// errOnline is the 302 of a name online on another connection, here or
// on another node.
func errOnline(name string) error {
	return Reasonf(ErrConflict, "%q is online on another connection", name)
}

// claimFor claims r's name on the other nodes for s, answering r with 302
// or 500 and reporting false if it cannot be had.
func (q *sequencer) claimFor(s *Session, r *Request, takeover bool) bool {
	if q.c.Presence == nil {
		return true
	}
	ok, err := q.c.Presence.Claim(r.Username, takeover)
	switch {
	case err != nil:
		q.c.Logger.Error("claim a name in the cluster", "user", r.Username, "err", err)
		q.fail(s, r, fmt.Errorf("%w: the cluster did not answer", ErrStorage))
		return false
	case !ok:
		q.fail(s, r, errOnline(r.Username))
		return false
	}
	return true
}

// unclaim gives up the name that an event of the batch was to register,
// if the log did not store it.
func (q *sequencer) unclaim(e projection.Event) {
	if u, ok := e.Payload.(projection.UserRegistered); ok && q.c.Presence != nil {
		q.c.Presence.Release(u.Username)
	}
}

// unauthorized is the one reason given for every 401, so that it tells
// nothing about whether the name exists or is protected.
const unauthorized = "wrong username or password"

// replace signs old out because its user has registered from another
// connection with the password: old is told, then closed.
func (q *sequencer) replace(old *Session) {
	delete(q.online, old.user)
	q.answer(old, nil, Frame{Type: FrameSessionReplaced, Status: StatusOK, Username: old.user,
		Reason: "you signed in from another connection"})
	q.steps = append(q.steps, step{s: old, event: -1, close: true, why: CloseReplaced})
	old.user = ""
}

// dropSlow takes a session that could not keep up offline at once, so that
// nothing more is queued for it while its connection closes.
func (q *sequencer) dropSlow(s *Session) {
	if s.user != "" && q.online[s.user] == s {
		q.logout(s.user)
		q.c.Metrics.SlowDisconnects.Inc()
		q.c.Logger.Warn("connection closed: too slow", "conn", s.conn.ID, "user", s.user)
	}
	s.user = ""
}

// login puts s online as name.
func (q *sequencer) login(s *Session, name string) {
	s.user = name
	s.name.Store(&name)
	q.online[name] = s
}

// logout takes name offline, here and for the other nodes, and tells
// those who share a conversation with name.
func (q *sequencer) logout(name string) {
	delete(q.online, name)
	if q.c.Presence != nil {
		q.c.Presence.Release(name)
	}
	if !q.isOnline(name) {
		q.announce(name, false)
	}
}

func (q *sequencer) groupMessageInit(s *Session, r *Request) {
	if !q.checkNames(s, r, "recipients", r.Recipients) {
		return
	}
	if !projection.ValidChatname(r.Chatname) {
		q.fail(s, r, errBadChatname())
		return
	}
	if _, ok := q.c.State.Chat(r.Chatname); ok {
		q.fail(s, r, Reasonf(ErrConflict, "chat %q already exists", r.Chatname))
		return
	}
	for _, name := range r.Recipients {
		if _, ok := q.c.State.User(name); !ok {
			q.fail(s, r, Reasonf(ErrNotFound, "recipient %q has never registered", name))
			return
		}
	}
	members := append(slices.Clone(r.Recipients), s.user)
	slices.Sort(members)
	members = slices.Compact(members)
	q.propose(s, r, projection.ChatCreated{Chat: r.Chatname, Members: members, Content: r.Content}, true)
}

func (q *sequencer) groupMessage(s *Session, r *Request) {
	if q.checkMember(s, r) {
		q.propose(s, r, projection.GroupMessagePosted{Chat: r.Chatname, Content: r.Content}, false)
	}
}

// checkMember reports whether r.Chatname names a chat c's user belongs to,
// answering r with 400, 404 or 403 if not.
func (q *sequencer) checkMember(s *Session, r *Request) bool {
	if !projection.ValidChatname(r.Chatname) {
		q.fail(s, r, errBadChatname())
		return false
	}
	chat, ok := q.c.State.Chat(r.Chatname)
	switch {
	case !ok:
		q.fail(s, r, Reasonf(ErrNotFound, "chat %q does not exist", r.Chatname))
		return false
	case !chat.HasMember(s.user):
		q.fail(s, r, Reasonf(ErrForbidden, "you are not a member of chat %q", r.Chatname))
		return false
	}
	return true
}

func (q *sequencer) randomMessage(s *Session, r *Request) {
	var others []string
	if q.c.Presence == nil {
		others = make([]string, 0, len(q.online))
		for name := range q.online {
			if name != s.user {
				others = append(others, name)
			}
		}
	} else {
		others = slices.DeleteFunc(q.everyoneOnline(), func(name string) bool { return name == s.user })
	}
	if len(others) == 0 {
		q.fail(s, r, Reasonf(ErrNotFound, "nobody else is online"))
		return
	}
	to := others[rand.IntN(len(others))]
	q.propose(s, r, projection.DirectMessageSent{Recipient: to, Content: r.Content, Random: true}, false)
}

func (q *sequencer) singleMessage(s *Session, r *Request) {
	switch {
	case !projection.ValidUsername(r.Recipient):
		q.fail(s, r, errBadRecipient(r.Recipient))
		return
	case r.Recipient == s.user:
		q.fail(s, r, Reasonf(ErrBadRequest, "you cannot send a message to yourself"))
		return
	}
	if _, ok := q.c.State.User(r.Recipient); !ok {
		q.fail(s, r, Reasonf(ErrNotFound, "recipient %q has never registered", r.Recipient))
		return
	}
	q.propose(s, r, projection.DirectMessageSent{Recipient: r.Recipient, Content: r.Content}, false)
}

// checkNames reports whether names, the request's field, lists 1 to
// MaxRecipients valid usernames, answering r with 400 if not.
func (q *sequencer) checkNames(s *Session, r *Request, field string, names []string) bool {
	var err error
	switch {
	case len(names) == 0:
		err = Reasonf(ErrBadRequest, "%s must name at least one user", field)
	case len(names) > MaxRecipients:
		err = Reasonf(ErrBadRequest, "%s name %d users; the limit is %d", field, len(names), MaxRecipients)
	}
	for _, name := range names {
		if err == nil && !projection.ValidUsername(name) {
			err = Reasonf(ErrBadRequest, "%q in %s is not a valid username", Truncate(name, MaxQuoted), field)
		}
	}
	if err != nil {
		q.fail(s, r, err)
	}
	return err == nil
}

// errBadChatname is the 400 of an invalid chat name.
func errBadChatname() error {
	return Reasonf(ErrBadRequest, "chatname must be 1-%d characters without control characters", projection.MaxChatnameRunes)
}

// errBadRecipient is the 400 of an invalid username given as a recipient.
func errBadRecipient(name string) error {
	return Reasonf(ErrBadRequest, "recipient %q is not a valid username", Truncate(name, MaxQuoted))
}
