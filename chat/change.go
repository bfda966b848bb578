package chat

import (
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// audience returns who hears of stored event e, as members or recipients
// (its actor too, for the caller to skip): a message's chat members or
// recipient, a chat's members after a change of members, and the
// conversation of an edited or deleted message.
func audience(st *projection.State, e projection.Event) []string {
	switch p := e.Payload.(type) {
	case projection.ChatCreated:
		return p.Members
	case projection.GroupMessagePosted:
		return chatMembers(st, p.Chat)
	case projection.DirectMessageSent:
		return []string{p.Recipient}
	case projection.ChatMembersAdded:
		return chatMembers(st, p.Chat)
	case projection.ChatMemberLeft:
		return chatMembers(st, p.Chat)
	case projection.MessageEdited:
		return messageAudience(st, p.Message)
	case projection.MessageDeleted:
		return messageAudience(st, p.Message)
	}
	return nil
}

func chatMembers(st *projection.State, name string) []string {
	c, _ := st.Chat(name)
	return c.Members
}

// messageAudience is who reads the conversation of message id.
func messageAudience(st *projection.State, id ulid.ULID) []string {
	m, ok := st.Message(id)
	switch {
	case !ok:
		return nil
	case m.Chat != "":
		return chatMembers(st, m.Chat)
	}
	return []string{m.Sender, m.Peer}
}

// deliveryOf returns the frame that tells e's audience of it, live or in a
// replay, and false for an event that has none.
func deliveryOf(st *projection.State, e projection.Event, replay bool) (Frame, bool) {
	f := Frame{Status: StatusOK, Replay: replay}
	switch p := e.Payload.(type) {
	case projection.ChatCreated, projection.GroupMessagePosted, projection.DirectMessageSent:
		return Delivery(e, replay), true
	case projection.ChatMembersAdded:
		f.Type, f.Chatname, f.Members, f.Added, f.By, f.ID, f.Time = FrameMembersChanged, p.Chat, chatMembers(st, p.Chat), p.Added, e.Actor, e.ID, e.Time()
	case projection.ChatMemberLeft:
		f.Type, f.Chatname, f.Members, f.Removed, f.By, f.ID, f.Time = FrameMembersChanged, p.Chat, chatMembers(st, p.Chat), []string{e.Actor}, e.Actor, e.ID, e.Time()
	case projection.MessageEdited:
		f.Type, f.Content, f.Time = FrameMessageEdited, p.Content, e.Time()
		return messageChange(st, f, p.Message, e)
	case projection.MessageDeleted:
		f.Type = FrameMessageDeleted
		return messageChange(st, f, p.Message, e)
	case projection.ReadMarkerMoved:
		f.Type, f.Chatname, f.Recipient, f.ID = FrameReadMarker, p.Chat, p.Peer, p.Message
	default:
		return Frame{}, false
	}
	return f, true
}

// messageChange completes f, the frame of e, an edit or deletion of the
// message with id: which message, by whom, in which conversation.
func messageChange(st *projection.State, f Frame, id ulid.ULID, e projection.Event) (Frame, bool) {
	m, ok := st.Message(id)
	if !ok {
		return Frame{}, false
	}
	f.ID, f.Changed, f.Sender, f.Chatname = id, e.ID, m.Sender, m.Chat
	if m.Chat == "" {
		f.Recipient = m.Peer
	}
	return f, true
}

// ackOf is Ack with what the event alone does not say: the members of a
// chat after an invitation.
func ackOf(st *projection.State, r *Request, e projection.Event) Frame {
	f := Ack(r, e)
	if p, ok := e.Payload.(projection.ChatMembersAdded); ok {
		f.Members = chatMembers(st, p.Chat)
	}
	return f
}
