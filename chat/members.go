package chat

import (
	"slices"

	"github.com/chateau/chateau/projection"
)

// chatInvite decides a ChatInviteRequest: a member adds users to a chat.
// Names already members are ignored; if none is left, nothing is stored.
func (q *sequencer) chatInvite(s *Session, r *Request) {
	if !q.checkNames(s, r, "usernames", r.Usernames) {
		return
	}
	if !q.checkMember(s, r) {
		return
	}
	chat, _ := q.c.State.Chat(r.Chatname)
	var added []string
	for _, name := range r.Usernames {
		if _, ok := q.c.State.User(name); !ok {
			q.fail(s, r, Reasonf(ErrNotFound, "user %q has never registered", name))
			return
		}
		if !chat.HasMember(name) {
			added = append(added, name)
		}
	}
	if len(added) == 0 {
		q.answer(s, r, Frame{Type: FrameChatInvite, Status: StatusOK, MessageID: r.MessageID, Chatname: chat.Name, Members: chat.Members})
		return
	}
	slices.Sort(added)
	q.propose(s, r, projection.ChatMembersAdded{Chat: r.Chatname, Added: slices.Compact(added)}, true)
}

// chatLeave decides a ChatLeaveRequest: the chat stays, without the user.
func (q *sequencer) chatLeave(s *Session, r *Request) {
	if q.checkMember(s, r) {
		q.propose(s, r, projection.ChatMemberLeft{Chat: r.Chatname}, true)
	}
}
