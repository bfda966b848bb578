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
)

// Types lists every event type name.
func Types() []string {
	return []string{TypeUserRegistered, TypeChatCreated, TypeGroupMessagePosted, TypeDirectMessageSent}
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

// Type implements Payload.
func (UserRegistered) Type() string { return TypeUserRegistered }

// Type implements Payload.
func (ChatCreated) Type() string { return TypeChatCreated }

// Type implements Payload.
func (GroupMessagePosted) Type() string { return TypeGroupMessagePosted }

// Type implements Payload.
func (DirectMessageSent) Type() string { return TypeDirectMessageSent }
