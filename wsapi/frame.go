package wsapi

import (
	"encoding/json"
	"errors"

	"github.com/chateau/chateau/projection"
)

// Server frame type names.
const (
	frameRegister          = "RegisterResponse"
	frameGroupMessageInit  = "GroupMessageInitResponse"
	frameGroupMessage      = "GroupMessageResponse"
	frameGroupMessageRecv  = "GroupMessageRecv"
	frameClientList        = "ClientListResponse"
	frameRandomMessage     = "RandomMessageResponse"
	frameSingleMessage     = "SingleMessageResponse"
	frameSingleMessageRecv = "SingleMessageRecv"
	frameError             = "ErrorResponse"
	frameSessionReplaced   = "SessionReplaced"
	frameChatList          = "ChatListResponse"
	frameHistory           = "HistoryResponse"
	frameReplayComplete    = "ReplayComplete"
)

// frame is every field a server frame may carry; empty ones are omitted.
// Field names follow the seed's protocol, "clients" included.
type frame struct {
	Type      string          `json:"type"`
	Status    int             `json:"status"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Request   string          `json:"request,omitempty"`
	Username  string          `json:"username,omitempty"`
	Chatname  string          `json:"chatname,omitempty"`
	Members   []string        `json:"members,omitempty"`
	Sender    string          `json:"sender,omitempty"`
	Recipient string          `json:"recipient,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Time      string          `json:"time,omitempty"`
	Random    bool            `json:"random,omitempty"`
	Replay    bool            `json:"replay,omitempty"`
	LastID    string          `json:"last_id,omitempty"`
	Clients   any             `json:"clients,omitempty"`

	// RetryAfter tells a client refused a login when to try again, in
	// whole seconds.
	RetryAfter int `json:"retry_after,omitempty"`
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

// replayCompleteFrame ends a replay; LastID is null when nothing was replayed.
type replayCompleteFrame struct {
	Type      string          `json:"type"`
	Status    int             `json:"status"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Count     int             `json:"count"`
	LastID    *string         `json:"last_id"`
}

// marshal encodes one of the frame types above.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("wsapi: encode frame: " + err.Error())
	}
	return b
}

// errorFrame answers r with err.
func errorFrame(r *request, err error) []byte {
	reason := err.Error()
	var re *reasonError
	if !errors.As(err, &re) {
		reason = "internal error"
		if errors.Is(err, ErrStorage) {
			reason = ErrStorage.Error()
		}
	}
	f := frame{Type: frameError, Status: statusOf(err), MessageID: r.messageID, Reason: reason, Request: r.kind}
	var retry *retryError
	if errors.As(err, &retry) {
		f.RetryAfter = retrySeconds(retry.after)
	}
	return encode(&f)
}

// ackFrame answers r after its event e is stored.
func ackFrame(r *request, e projection.Event) []byte {
	f := frame{Status: StatusOK, MessageID: r.messageID, ID: e.ID.String(), Time: projection.FormatTime(e.Time())}
	switch p := e.Payload.(type) {
	case projection.UserRegistered:
		f.Type, f.Username, f.ID, f.Time, f.LastID = frameRegister, p.Username, "", "", e.ID.String()
	case projection.ChatCreated:
		f.Type, f.Chatname, f.Members = frameGroupMessageInit, p.Chat, p.Members
	case projection.GroupMessagePosted:
		f.Type, f.Chatname = frameGroupMessage, p.Chat
	case projection.DirectMessageSent:
		if p.Random {
			f.Type, f.Clients = frameRandomMessage, p.Recipient
		} else {
			f.Type, f.Recipient = frameSingleMessage, p.Recipient
		}
	}
	return encode(&f)
}

// deliveryFrame is what the other members or the recipient of e receive;
// replay marks one sent again to a client catching up.
func deliveryFrame(e projection.Event, replay bool) []byte {
	f := frame{Status: StatusOK, Sender: e.Actor, ID: e.ID.String(), Time: projection.FormatTime(e.Time()), Replay: replay}
	switch p := e.Payload.(type) {
	case projection.ChatCreated:
		f.Type, f.Status, f.Chatname, f.Members, f.Content = frameGroupMessageRecv, StatusCreated, p.Chat, p.Members, &p.Content
	case projection.GroupMessagePosted:
		f.Type, f.Chatname, f.Content = frameGroupMessageRecv, p.Chat, &p.Content
	case projection.DirectMessageSent:
		f.Type, f.Content, f.Random = frameSingleMessageRecv, &p.Content, p.Random
	}
	return encode(&f)
}
