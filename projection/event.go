// Package projection holds Chateau's domain: the events that the log
// stores, their encoding, and the state (users, chats, memberships)
// rebuilt by applying events in log order.
//
// It knows no sockets and no disk: the event log gives it bytes, the
// WebSocket layer asks it questions.
package projection

import (
	"time"

	"github.com/oklog/ulid/v2"
)

// Event is one stored fact: who did what, when.
type Event struct {
	// ID is the event's ULID, assigned by the log; its time is the event's time.
	ID ulid.ULID
	// Actor is the username that caused the event.
	Actor string
	// RequestID is the client's messageID (its raw JSON text), if any; it
	// makes a retried request idempotent.
	RequestID string
	// Payload is one of the payload types of this package.
	Payload Payload
}

// Time returns the event's time, taken from its id (millisecond precision).
func (e Event) Time() time.Time { return ulid.Time(e.ID.Time()).UTC() }

// Payload is the type-specific part of an Event.
type Payload interface {
	// Type is the event's type name as shown by `chateau events dump`.
	Type() string
}

// Event type names.
const (
	TypeUserRegistered     = "UserRegistered"
	TypeChatCreated        = "ChatCreated"
	TypeGroupMessagePosted = "GroupMessagePosted"
	TypeDirectMessageSent  = "DirectMessageSent"
	TypeChatMembersAdded   = "ChatMembersAdded"
	TypeChatMemberLeft     = "ChatMemberLeft"
	TypeMessageEdited      = "MessageEdited"
	TypeMessageDeleted     = "MessageDeleted"
	TypeReadMarkerMoved    = "ReadMarkerMoved"
	TypePasswordChanged    = "PasswordChanged"
)

// Types lists every event type name.
func Types() []string {
	return []string{TypeUserRegistered, TypeChatCreated, TypeGroupMessagePosted, TypeDirectMessageSent,
		TypeChatMembersAdded, TypeChatMemberLeft, TypeMessageEdited, TypeMessageDeleted, TypeReadMarkerMoved,
		TypePasswordChanged}
}

// UserRegistered records a username's first registration.
type UserRegistered struct {
	Username string
	// PasswordHash is a slow salted hash of the user's password, or empty
	// for an unprotected name. It is never shown by `events dump`.
	PasswordHash []byte
}

// ChatCreated records a new group chat and its first message, sent by the
// event's Actor.
type ChatCreated struct {
	Chat string
	// Members are the creator and the recipients, sorted, without duplicates.
	Members []string
	Content string
}

// GroupMessagePosted records a message to a group chat.
type GroupMessagePosted struct {
	Chat    string
	Content string
}

// DirectMessageSent records a message from the Actor to one user.
type DirectMessageSent struct {
	Recipient string
	Content   string
	// Random is true when the server chose the recipient.
	Random bool
}

// ChatMembersAdded records that the Actor, a member, invited users to a
// chat: from then on they are members, and may read its whole history.
type ChatMembersAdded struct {
	Chat string
	// Added are the users who were not members before, sorted.
	Added []string
}

// ChatMemberLeft records that the Actor left a chat. The chat stays, with
// its name and history, for the members left.
type ChatMemberLeft struct {
	Chat string
}

// MessageEdited records that the Actor, its sender, replaced the content
// of the message with id Message.
type MessageEdited struct {
	Message ulid.ULID
	// Content is the new content; "" once the message is deleted (Erase).
	Content string
}

// MessageDeleted records that the Actor, its sender, deleted the message
// with id Message. The log erases the content of the message and of its
// edits in the same transaction (Erase).
type MessageDeleted struct {
	Message ulid.ULID
}

// ReadMarkerMoved records that the Actor has read a conversation up to and
// including the message with id Message: a chat, or the direct
// conversation with Peer.
type ReadMarkerMoved struct {
	Chat    string
	Peer    string
	Message ulid.ULID
}

// PasswordChanged records a new password for the Actor's name, which is
// protected from then on.
type PasswordChanged struct {
	// PasswordHash is like UserRegistered's; never shown.
	PasswordHash []byte
}

// Type implements Payload.
func (UserRegistered) Type() string { return TypeUserRegistered }

// Type implements Payload.
func (ChatMembersAdded) Type() string { return TypeChatMembersAdded }

// Type implements Payload.
func (ChatMemberLeft) Type() string { return TypeChatMemberLeft }

// Type implements Payload.
func (MessageEdited) Type() string { return TypeMessageEdited }

// Type implements Payload.
func (MessageDeleted) Type() string { return TypeMessageDeleted }

// Type implements Payload.
func (ReadMarkerMoved) Type() string { return TypeReadMarkerMoved }

// Type implements Payload.
func (PasswordChanged) Type() string { return TypePasswordChanged }

// Type implements Payload.
func (ChatCreated) Type() string { return TypeChatCreated }

// Type implements Payload.
func (GroupMessagePosted) Type() string { return TypeGroupMessagePosted }

// Type implements Payload.
func (DirectMessageSent) Type() string { return TypeDirectMessageSent }
