package chat

import (
	"slices"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// ownMessage returns the message r.ID names if s's user sent it and may
// still change it, answering r with 404 or 403 if not. A message the user
// cannot read is 404, as one that does not exist: that it exists is not
// theirs to know.
func (q *sequencer) ownMessage(s *Session, r *Request) (projection.Message, bool) {
	st := q.c.State
	m, ok := st.Message(r.ID)
	switch {
	case !ok || m.Deleted != (ulid.ULID{}):
		q.fail(s, r, Reasonf(ErrNotFound, "no message %s", r.ID))
		return m, false
	case m.Sender == s.user && m.Chat != "" && !st.Readable(m, s.user):
		q.fail(s, r, Reasonf(ErrForbidden, "you are not a member of chat %q", m.Chat))
		return m, false
	case !st.Readable(m, s.user):
		q.fail(s, r, Reasonf(ErrNotFound, "no message %s", r.ID))
		return m, false
	case m.Sender != s.user:
		q.fail(s, r, Reasonf(ErrForbidden, "message %s is %s's, not yours", r.ID, m.Sender))
		return m, false
	}
	return m, true
}

// editMessage decides an EditMessageRequest.
func (q *sequencer) editMessage(s *Session, r *Request) {
	if _, ok := q.ownMessage(s, r); ok {
		q.propose(s, r, projection.MessageEdited{Message: r.ID, Content: r.Content}, false)
	}
}

// deleteMessage decides a DeleteMessageRequest. On a log that can rewrite
// its records, the message's content and its edits' are erased in the
// transaction that stores the deletion. The request is decided after the
// batch before it is stored (waitsForBatch), so that every edit of the
// message is in the state, and it ends its batch (barrier), so that no
// later edit joins it.
func (q *sequencer) deleteMessage(s *Session, r *Request) {
	m, ok := q.ownMessage(s, r)
	if !ok {
		return
	}
	q.propose(s, r, projection.MessageDeleted{Message: r.ID}, true)
	for _, id := range append([]ulid.ULID{m.ID}, q.c.State.Edits(m.ID)...) {
		q.rewrites = append(q.rewrites, eventlog.Rewrite{ID: id, Edit: func(old []byte) ([]byte, error) {
			return projection.Erase(id, old)
		}})
	}
}

// markRead decides a MarkReadRequest: the user's marker in a conversation
// moves forward to a message of it; an older one leaves it, stores nothing
// and is answered with the marker as it is.
func (q *sequencer) markRead(s *Session, r *Request) {
	ids, ok := q.conversationLog(s, r)
	if !ok {
		return
	}
	if _, found := slices.BinarySearchFunc(ids, r.ID, ulid.ULID.Compare); !found {
		q.fail(s, r, Reasonf(ErrNotFound, "message %s is not in this conversation", r.ID))
		return
	}
	if marker := q.c.State.Marker(s.user, r.Chatname, r.Recipient); r.ID.Compare(marker) <= 0 {
		q.answer(s, r, Frame{Type: FrameMarkRead, Status: StatusOK, MessageID: r.MessageID, Chatname: r.Chatname,
			Recipient: r.Recipient, ID: marker})
		return
	}
	q.propose(s, r, projection.ReadMarkerMoved{Chat: r.Chatname, Peer: r.Recipient, Message: r.ID}, false)
}

// conversationLog returns the message ids of the chat r.Chatname, of which
// s's user must be a member, or of their direct conversation with
// r.Recipient, answering r with 400, 403 or 404 if there is none.
func (q *sequencer) conversationLog(s *Session, r *Request) ([]ulid.ULID, bool) {
	if r.Chatname != "" {
		if !q.checkMember(s, r) {
			return nil, false
		}
		return q.c.State.ChatLog(r.Chatname), true
	}
	if !q.checkUser(s, r) {
		return nil, false
	}
	return q.c.State.DirectLog(s.user, r.Recipient), true
}

// checkUser reports whether r.Recipient names a registered user, answering
// r with 400 or 404 if not.
func (q *sequencer) checkUser(s *Session, r *Request) bool {
	if !projection.ValidUsername(r.Recipient) {
		q.fail(s, r, errBadRecipient(r.Recipient))
		return false
	}
	if _, ok := q.c.State.User(r.Recipient); !ok {
		q.fail(s, r, Reasonf(ErrNotFound, "user %q has never registered", r.Recipient))
		return false
	}
	return true
}
