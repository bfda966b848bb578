package chat

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Request type names, as clients send them in "type".
const (
	TypeRegister         = "RegisterRequest"
	TypeGroupMessageInit = "GroupMessageInitRequest"
	TypeGroupMessage     = "GroupMessageRequest"
	TypeClientList       = "ClientListRequest"
	TypeRandomMessage    = "RandomMessageRequest"
	TypeSingleMessage    = "SingleMessageRequest"
	TypeChatList         = "ChatListRequest"
	TypeHistory          = "HistoryRequest"
	TypeMarkRead         = "MarkReadRequest"
	TypeChatInvite       = "ChatInviteRequest"
	TypeChatLeave        = "ChatLeaveRequest"
	TypeEditMessage      = "EditMessageRequest"
	TypeDeleteMessage    = "DeleteMessageRequest"
	TypeTyping           = "TypingRequest"
	TypeChangePassword   = "ChangePasswordRequest"
)

// Limits of the protocol that are not configurable.
const (
	// MaxRecipients bounds a GroupMessageInitRequest's recipients and a
	// ChatInviteRequest's usernames.
	MaxRecipients = 256
	// DefaultHistoryLimit and MaxHistoryLimit are a history page's sizes.
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 200
	// MaxQuoted bounds a client's string quoted back in a reason (Truncate).
	MaxQuoted = 64
)

// Request is one decoded client frame. The transport decodes it; decoding
// never fails outright: a frame whose type is known but whose fields are
// bad keeps the error in Err, so that an unregistered connection still
// gets 301 first.
type Request struct {
	Received  time.Time       // when the transport had the frame
	Kind      string          // the "type", if it is a known request type
	MessageID json.RawMessage // echoed in every direct answer
	Err       error           // a decoding or transport error, answered as it is

	Username   string
	Password   string
	Chatname   string
	Content    string
	Recipient  string
	Recipients []string
	Since      ulid.ULID // RegisterRequest: replay what came after it
	HasSince   bool
	Before     ulid.ULID // HistoryRequest
	After      ulid.ULID
	Limit      int
	ID         ulid.ULID // the message a MarkRead, Edit or Delete names
	Usernames  []string  // ChatInviteRequest
	// OldPassword and NewPassword are a ChangePasswordRequest's.
	OldPassword string
	NewPassword string

	// Set by Submit for a RegisterRequest with a password, so that the
	// slow hashing happens outside the sequencer.
	passwordHash []byte // a new hash, for a name that did not exist or a new password
	verifiedHash []byte // the stored hash that Password (or OldPassword) matched; empty, not nil, for none
}

// Truncate shortens s to at most n bytes and an ellipsis, at a character
// boundary, for quoting a client's string back in a reason.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
