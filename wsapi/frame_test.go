package wsapi

import (
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/oklog/ulid/v2"
)

// TestEncode_ChangeFrames pins the wire form of issue 14's frames: the
// fields the protocol table names, false and empty ones where it says
// they are always there, and a deleted message without content.
func TestEncode_ChangeFrames(t *testing.T) {
	id := ulid.MustParse("01M8ANA9K2023SXKXQGTBYMQ6P")
	ch := ulid.MustParse("01M8ANA9K3023SXKXQGTBYMQ6P")
	at := time.Date(2026, 11, 30, 1, 2, 3, 456_000_000, time.UTC)
	tests := []struct {
		f    chat.Frame
		want string
	}{
		{chat.Frame{Type: chat.FramePresenceChanged, Status: 200, Username: "bob"},
			`{"type":"PresenceChanged","status":200,"username":"bob","online":false}`},
		{chat.Frame{Type: chat.FrameMembersChanged, Status: 200, Chatname: "c", Removed: []string{"bob"}, By: "bob", ID: ch, Time: at},
			`{"type":"ChatMembersChanged","status":200,"chatname":"c","members":[],"removed":["bob"],"by":"bob","id":"01M8ANA9K3023SXKXQGTBYMQ6P","time":"2026-11-30T01:02:03.456Z"}`},
		{chat.Frame{Type: chat.FrameMessageEdited, Status: 200, Sender: "ann", Recipient: "bob", ID: id, Content: "", Changed: ch, Time: at, Replay: true},
			`{"type":"MessageEdited","status":200,"sender":"ann","recipient":"bob","id":"01M8ANA9K2023SXKXQGTBYMQ6P","content":"","edited_id":"01M8ANA9K3023SXKXQGTBYMQ6P","time":"2026-11-30T01:02:03.456Z","replay":true}`},
		{chat.Frame{Type: chat.FrameDeleteMessage, Status: 200, MessageID: []byte(`"d1"`), ID: id, Changed: ch},
			`{"type":"DeleteMessageResponse","status":200,"messageID":"d1","id":"01M8ANA9K2023SXKXQGTBYMQ6P","deleted_id":"01M8ANA9K3023SXKXQGTBYMQ6P"}`},
		{chat.Frame{Type: chat.FrameTyping, Status: 200, Sender: "ann", Username: "ann"},
			`{"type":"Typing","status":200,"username":"ann","sender":"ann"}`},
		{chat.Frame{Type: chat.FrameChatList, Status: 200, Chats: []chat.ChatSummary{{Chatname: "c", Members: []string{"ann"}, LastID: id, Unread: 2}}},
			`{"type":"ChatListResponse","status":200,"chats":[{"chatname":"c","members":["ann"],"last_id":"01M8ANA9K2023SXKXQGTBYMQ6P","unread":2}],"direct":[]}`},
		{chat.Frame{Type: chat.FrameHistory, Status: 200, Chatname: "c", Messages: []chat.HistoryMessage{
			{ID: id, Sender: "ann", Content: "gone", Time: at, Deleted: true}, {ID: ch, Sender: "bob", Content: "new", Time: at, Edited: true}}},
			`{"type":"HistoryResponse","status":200,"chatname":"c","messages":[{"id":"01M8ANA9K2023SXKXQGTBYMQ6P","sender":"ann","time":"2026-11-30T01:02:03.456Z","deleted":true},{"id":"01M8ANA9K3023SXKXQGTBYMQ6P","sender":"bob","content":"new","time":"2026-11-30T01:02:03.456Z","edited":true}],"more":false}`},
	}
	for _, tt := range tests {
		if got := string(Encode(tt.f)); got != tt.want {
			t.Errorf("Encode(%s)\n got %s\nwant %s", tt.f.Type, got, tt.want)
		}
	}
}
