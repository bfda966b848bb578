package wsapi

import (
	"encoding/json"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// Encode writes f as the protocol's JSON text frame: by hand (encode) for
// every frame but the three with lists of objects, which encoding/json
// writes from the structs below.
func Encode(f chat.Frame) []byte {
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

type historyMessage struct {
	ID      string `json:"id"`
	Sender  string `json:"sender"`
	Content string `json:"content"`
	Time    string `json:"time"`
	Random  bool   `json:"random,omitempty"`
}

func newHistoryFrame(f chat.Frame) *historyFrame {
	h := &historyFrame{Type: f.Type, Status: f.Status, MessageID: f.MessageID, Chatname: f.Chatname, Recipient: f.Recipient,
		Messages: make([]historyMessage, len(f.Messages)), More: f.More}
	for i, m := range f.Messages {
		h.Messages[i] = historyMessage{ID: m.ID.String(), Sender: m.Sender, Content: m.Content,
			Time: projection.FormatTime(m.Time), Random: m.Random}
	}
	return h
}

// chatListFrame is a ChatListResponse.
type chatListFrame struct {
	Type      string          `json:"type"`
	Status    int             `json:"status"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Chats     []chatSummary   `json:"chats"`
}

type chatSummary struct {
	Chatname string   `json:"chatname"`
	Members  []string `json:"members"`
	LastID   *string  `json:"last_id"`
}

func newChatListFrame(f chat.Frame) *chatListFrame {
	l := &chatListFrame{Type: f.Type, Status: f.Status, MessageID: f.MessageID, Chats: make([]chatSummary, len(f.Chats))}
	for i, c := range f.Chats {
		l.Chats[i] = chatSummary{Chatname: c.Chatname, Members: c.Members, LastID: nullable(c.LastID)}
	}
	return l
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
