package chat

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// Server frame type names.
const (
	FrameRegister          = "RegisterResponse"
	FrameGroupMessageInit  = "GroupMessageInitResponse"
	FrameGroupMessage      = "GroupMessageResponse"
	FrameGroupMessageRecv  = "GroupMessageRecv"
	FrameClientList        = "ClientListResponse"
	FrameRandomMessage     = "RandomMessageResponse"
	FrameSingleMessage     = "SingleMessageResponse"
	FrameSingleMessageRecv = "SingleMessageRecv"
	FrameError             = "ErrorResponse"
	FrameSessionReplaced   = "SessionReplaced"
	FrameChatList          = "ChatListResponse"
	FrameHistory           = "HistoryResponse"
	FrameReplayComplete    = "ReplayComplete"
	FramePresenceChanged   = "PresenceChanged"
	FrameMarkRead          = "MarkReadResponse"
	FrameReadMarker        = "ReadMarker"
	FrameChatInvite        = "ChatInviteResponse"
	FrameChatLeave         = "ChatLeaveResponse"
	FrameMembersChanged    = "ChatMembersChanged"
	FrameEditMessage       = "EditMessageResponse"
	FrameMessageEdited     = "MessageEdited"
	FrameDeleteMessage     = "DeleteMessageResponse"
	FrameMessageDeleted    = "MessageDeleted"
	FrameTyping            = "Typing"
	FrameChangePassword    = "ChangePasswordResponse"
)

// Frame is a server frame as the core decides it: every field any frame
// may carry, named as in the protocol, empty ones unused. The transport
// writes it (Core.Encode), with the protocol's own spellings where they
// differ: a RandomMessageResponse's chosen user (Recipient here) is
// "clients", as in the seed.
type Frame struct {
	Type      string
	Status    int
	MessageID json.RawMessage // the request's, echoed as it came
	Reason    string
	Request   string
	Username  string
	Chatname  string
	Members   []string
	Sender    string
	Recipient string
	// Content is a delivery's message, in GroupMessageRecv and
	// SingleMessageRecv (where "" is a message too), and an edit's.
	Content string
	// ID and Time are a stored message's id and time (zero for none),
	// written by the transport, which saves two strings a frame.
	ID     ulid.ULID
	Time   time.Time
	Random bool
	Replay bool
	// LastID is a RegisterResponse's log position, a ReplayComplete's
	// newest message (zero for none).
	LastID ulid.ULID
	// Clients are a ClientListResponse's usernames.
	Clients []string
	// RetryAfter tells a client refused a login when to try again, in
	// whole seconds.
	RetryAfter int
	// Messages and More are a HistoryResponse's page.
	Messages []HistoryMessage
	More     bool
	// Chats are a ChatListResponse's.
	Chats []ChatSummary
	// Count is how many messages a ReplayComplete ends.
	Count int
	// Online is a PresenceChanged's.
	Online bool
	// Added, Removed and By are a ChatMembersChanged's.
	Added, Removed []string
	By             string
	// Changed is the id of an edit or a deletion; ID is then the id of
	// the message it changed.
	Changed ulid.ULID
	// Direct are a ChatListResponse's direct conversations.
	Direct []DirectSummary
}

// HistoryMessage is one message of a HistoryResponse: its latest content,
// or none once it is deleted.
type HistoryMessage struct {
	ID              ulid.ULID
	Sender, Content string
	Time            time.Time
	Random          bool
	Edited, Deleted bool
}

// ChatSummary is one chat of a ChatListResponse; LastID is zero for none.
type ChatSummary struct {
	Chatname string
	Members  []string
	LastID   ulid.ULID
	Unread   int
}

// DirectSummary is one direct conversation of a ChatListResponse.
type DirectSummary struct {
	Username string
	LastID   ulid.ULID
	Unread   int
}

// errorFrame answers r with err.
func errorFrame(r *Request, err error) Frame {
	reason := err.Error()
	var re *reasonError
	if !errors.As(err, &re) {
		reason = "internal error"
		if errors.Is(err, ErrStorage) {
			reason = ErrStorage.Error()
		}
	}
	f := Frame{Type: FrameError, Status: StatusOf(err), MessageID: r.MessageID, Reason: reason, Request: r.Kind}
	var retry *retryError
	if errors.As(err, &retry) {
		f.RetryAfter = retrySeconds(retry.after)
	}
	return f
}

// Ack is the answer to r once its event e is stored.
func Ack(r *Request, e projection.Event) Frame {
	f := Frame{Status: StatusOK, MessageID: r.MessageID, ID: e.ID, Time: e.Time()}
	switch p := e.Payload.(type) {
	case projection.UserRegistered:
		f.Type, f.Username, f.ID, f.Time, f.LastID = FrameRegister, p.Username, ulid.ULID{}, time.Time{}, e.ID
	case projection.ChatCreated:
		f.Type, f.Chatname, f.Members = FrameGroupMessageInit, p.Chat, p.Members
	case projection.GroupMessagePosted:
		f.Type, f.Chatname = FrameGroupMessage, p.Chat
	case projection.DirectMessageSent:
		if p.Random {
			f.Type = FrameRandomMessage
		} else {
			f.Type = FrameSingleMessage
		}
		f.Recipient = p.Recipient
	case projection.ChatMembersAdded:
		f.Type, f.Chatname, f.ID, f.Time = FrameChatInvite, p.Chat, ulid.ULID{}, time.Time{}
	case projection.ChatMemberLeft:
		f.Type, f.Chatname, f.ID, f.Time = FrameChatLeave, p.Chat, ulid.ULID{}, time.Time{}
	case projection.MessageEdited:
		f.Type, f.ID, f.Changed = FrameEditMessage, p.Message, e.ID
	case projection.MessageDeleted:
		f.Type, f.ID, f.Changed, f.Time = FrameDeleteMessage, p.Message, e.ID, time.Time{}
	case projection.ReadMarkerMoved:
		f.Type, f.Chatname, f.Recipient, f.ID, f.Time = FrameMarkRead, p.Chat, p.Peer, p.Message, time.Time{}
	case projection.PasswordChanged:
		f.Type, f.ID, f.Time = FrameChangePassword, ulid.ULID{}, time.Time{}
	}
	return f
}

// Delivery is what the other members or the recipient of e receive;
// replay marks one sent again to a client catching up.
func Delivery(e projection.Event, replay bool) Frame {
	f := Frame{Status: StatusOK, Sender: e.Actor, ID: e.ID, Time: e.Time(), Replay: replay}
	switch p := e.Payload.(type) {
	case projection.ChatCreated:
		f.Type, f.Status, f.Chatname, f.Members, f.Content = FrameGroupMessageRecv, StatusCreated, p.Chat, p.Members, p.Content
	case projection.GroupMessagePosted:
		f.Type, f.Chatname, f.Content = FrameGroupMessageRecv, p.Chat, p.Content
	case projection.DirectMessageSent:
		f.Type, f.Content, f.Random = FrameSingleMessageRecv, p.Content, p.Random
	}
	return f
}
