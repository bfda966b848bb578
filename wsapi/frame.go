package wsapi

import (
	"encoding/json"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// Encode writes f as the protocol's JSON text frame: by hand (encode) for
// the frames of messages, and with encoding/json from the structs below
// for the three with lists of objects and for the rarer ones of read
// markers, members, edits, deletions, typing, presence and passwords.
func Encode(f chat.Frame) []byte {
	if _, ok := changeTypes[f.Type]; ok {
		return marshal(newChangeFrame(f))
	}
	switch f.Type {
	case chat.FrameHistory:
		return marshal(newHistoryFrame(f))
	case chat.FrameChatList:
		return marshal(newChatListFrame(f))
	case chat.FrameReplayComplete:
		return marshal(&replayCompleteFrame{Type: f.Type, Status: f.Status, MessageID: f.MessageID, Count: f.Count,
			LastID: nullable(f.LastID)})
	}
	return encode(&f)
}

// historyFrame is a HistoryResponse: messages is always an array.
type historyFrame struct {
	Type      string           `json:"type"`
	Status    int              `json:"status"`
	MessageID json.RawMessage  `json:"messageID,omitempty"`
	Chatname  string           `json:"chatname,omitempty"`
	Recipient string           `json:"recipient,omitempty"`
	Messages  []historyMessage `json:"messages"`
	More      bool             `json:"more"`
}

// historyMessage is a message of a HistoryResponse; a deleted one has no
// content.
type historyMessage struct {
	ID      string  `json:"id"`
	Sender  string  `json:"sender"`
	Content *string `json:"content,omitempty"`
	Time    string  `json:"time"`
	Random  bool    `json:"random,omitempty"`
	Edited  bool    `json:"edited,omitempty"`
	Deleted bool    `json:"deleted,omitempty"`
}

func newHistoryFrame(f chat.Frame) *historyFrame {
	h := &historyFrame{Type: f.Type, Status: f.Status, MessageID: f.MessageID, Chatname: f.Chatname, Recipient: f.Recipient,
		Messages: make([]historyMessage, len(f.Messages)), More: f.More}
	for i, m := range f.Messages {
		h.Messages[i] = historyMessage{ID: m.ID.String(), Sender: m.Sender, Time: projection.FormatTime(m.Time),
			Random: m.Random, Edited: m.Edited, Deleted: m.Deleted}
		if !m.Deleted {
			h.Messages[i].Content = &m.Content
		}
	}
	return h
}

// chatListFrame is a ChatListResponse.
type chatListFrame struct {
	Type      string          `json:"type"`
	Status    int             `json:"status"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Chats     []chatSummary   `json:"chats"`
	Direct    []directSummary `json:"direct"`
}

type chatSummary struct {
	Chatname string   `json:"chatname"`
	Members  []string `json:"members"`
	LastID   *string  `json:"last_id"`
	Unread   int      `json:"unread"`
}

type directSummary struct {
	Username string  `json:"username"`
	LastID   *string `json:"last_id"`
	Unread   int     `json:"unread"`
}

func newChatListFrame(f chat.Frame) *chatListFrame {
	l := &chatListFrame{Type: f.Type, Status: f.Status, MessageID: f.MessageID, Chats: make([]chatSummary, len(f.Chats)),
		Direct: make([]directSummary, len(f.Direct))}
	for i, c := range f.Chats {
		l.Chats[i] = chatSummary{Chatname: c.Chatname, Members: c.Members, LastID: nullable(c.LastID), Unread: c.Unread}
	}
	for i, d := range f.Direct {
		l.Direct[i] = directSummary{Username: d.Username, LastID: nullable(d.LastID), Unread: d.Unread}
	}
	return l
}

// changeTypes are the frames that changeFrame writes.
var changeTypes = map[string]struct{}{
	chat.FramePresenceChanged: {}, chat.FrameMarkRead: {}, chat.FrameReadMarker: {}, chat.FrameChatInvite: {},
	chat.FrameChatLeave: {}, chat.FrameMembersChanged: {}, chat.FrameEditMessage: {}, chat.FrameMessageEdited: {},
	chat.FrameDeleteMessage: {}, chat.FrameMessageDeleted: {}, chat.FrameTyping: {}, chat.FrameChangePassword: {},
}

// changeFrame is one of changeTypes: the answers and pushes of read
// markers, members, edits, deletions, typing, presence and passwords.
type changeFrame struct {
	Type      string          `json:"type"`
	Status    int             `json:"status"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Username  string          `json:"username,omitempty"`
	Online    *bool           `json:"online,omitempty"`
	Chatname  string          `json:"chatname,omitempty"`
	Members   any             `json:"members,omitempty"`
	Added     []string        `json:"added,omitempty"`
	Removed   []string        `json:"removed,omitempty"`
	By        string          `json:"by,omitempty"`
	Sender    string          `json:"sender,omitempty"`
	Recipient string          `json:"recipient,omitempty"`
	ID        string          `json:"id,omitempty"`
	Content   *string         `json:"content,omitempty"`
	EditedID  string          `json:"edited_id,omitempty"`
	DeletedID string          `json:"deleted_id,omitempty"`
	Time      string          `json:"time,omitempty"`
	Replay    bool            `json:"replay,omitempty"`
}

func newChangeFrame(f chat.Frame) *changeFrame {
	c := &changeFrame{Type: f.Type, Status: f.Status, MessageID: f.MessageID, Username: f.Username, Chatname: f.Chatname,
		Added: f.Added, Removed: f.Removed, By: f.By, Sender: f.Sender, Recipient: f.Recipient, Replay: f.Replay}
	if f.ID != (ulid.ULID{}) {
		c.ID = f.ID.String()
	}
	if !f.Time.IsZero() {
		c.Time = projection.FormatTime(f.Time)
	}
	switch f.Type {
	case chat.FramePresenceChanged:
		c.Online = &f.Online
	case chat.FrameMembersChanged, chat.FrameChatInvite:
		c.Members = append([]string{}, f.Members...)
	case chat.FrameMessageEdited:
		c.Content = &f.Content
	}
	switch f.Type {
	case chat.FrameEditMessage, chat.FrameMessageEdited:
		c.EditedID = f.Changed.String()
	case chat.FrameDeleteMessage, chat.FrameMessageDeleted:
		c.DeletedID = f.Changed.String()
	}
	return c
}

// replayCompleteFrame ends a replay; LastID is null when nothing was replayed.
type replayCompleteFrame struct {
	Type      string          `json:"type"`
	Status    int             `json:"status"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Count     int             `json:"count"`
	LastID    *string         `json:"last_id"`
}

// nullable is id as a string, or JSON's null for the zero id.
func nullable(id ulid.ULID) *string {
	if id == (ulid.ULID{}) {
		return nil
	}
	s := id.String()
	return &s
}

// marshal encodes one of the frame types above.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("wsapi: encode frame: " + err.Error())
	}
	return b
}
