package wsapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// wireFrame is what encode writes for a chat.Frame, as a struct that
// encoding/json writes: the reference TestEncode holds encode to.
type wireFrame struct {
	Type       string          `json:"type"`
	Status     int             `json:"status"`
	MessageID  json.RawMessage `json:"messageID,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Request    string          `json:"request,omitempty"`
	Username   string          `json:"username,omitempty"`
	Chatname   string          `json:"chatname,omitempty"`
	Members    []string        `json:"members,omitempty"`
	Sender     string          `json:"sender,omitempty"`
	Recipient  string          `json:"recipient,omitempty"`
	Content    *string         `json:"content,omitempty"`
	ID         string          `json:"id,omitempty"`
	Time       string          `json:"time,omitempty"`
	Random     bool            `json:"random,omitempty"`
	Replay     bool            `json:"replay,omitempty"`
	LastID     string          `json:"last_id,omitempty"`
	Clients    any             `json:"clients,omitempty"`
	RetryAfter int             `json:"retry_after,omitempty"`
}

// wire is f as the protocol spells it.
func wire(f chat.Frame) wireFrame {
	w := wireFrame{f.Type, f.Status, f.MessageID, f.Reason, f.Request, f.Username, f.Chatname, f.Members, f.Sender,
		f.Recipient, nil, "", "", f.Random, f.Replay, "", nil, f.RetryAfter}
	if !f.ID.IsZero() {
		w.ID = f.ID.String()
	}
	if !f.Time.IsZero() {
		w.Time = projection.FormatTime(f.Time)
	}
	if !f.LastID.IsZero() {
		w.LastID = f.LastID.String()
	}
	switch f.Type {
	case chat.FrameGroupMessageRecv, chat.FrameSingleMessageRecv:
		w.Content = &f.Content
	case chat.FrameRandomMessage:
		w.Recipient, w.Clients = "", f.Recipient
	case chat.FrameClientList:
		w.Clients = f.Clients
	}
	return w
}

// TestEncode checks that encode writes what encoding/json writes for the
// same frame, HTML escaping aside.
func TestEncode(t *testing.T) {
	content := "say \"hi\"\\ \n\r\t\x00\x1f é 🚀 \u2028\u2029 <b>&</b> \xff end"
	empty := ""
	id := ulid.MustParse("01M8ANA9K2023SXKXQGTBYMQ6P")
	frames := []chat.Frame{
		{Type: chat.FrameError, Status: chat.StatusBadRequest, MessageID: []byte(`"m1"`), Reason: "bad \"request\"", Request: chat.TypeGroupMessage},
		{Type: chat.FrameError, Status: chat.StatusTooMany, Reason: "wait", Request: chat.TypeRegister, RetryAfter: 3},
		{Type: chat.FrameRegister, Status: chat.StatusOK, MessageID: []byte(`42`), Username: "ann", LastID: id},
		{Type: chat.FrameGroupMessageRecv, Status: chat.StatusCreated, Chatname: "Team 🚀", Members: []string{"ann", "bob"}, Sender: "ann", Content: content, ID: id, Time: time.Date(2026, 11, 26, 0, 50, 31, 650_000_000, time.UTC), Replay: true},
		{Type: chat.FrameSingleMessageRecv, Status: chat.StatusOK, Sender: "bob", Content: empty, Random: true},
		{Type: chat.FrameRandomMessage, Status: chat.StatusOK, Recipient: "bob"},
		{Type: chat.FrameClientList, Status: chat.StatusOK, Clients: []string{"ann", "bob"}},
		{Type: chat.FrameClientList, Status: chat.StatusOK, Clients: []string{}},
		{Type: chat.FrameSingleMessage, Status: chat.StatusOK, Recipient: "carl"},
	}
	for _, f := range frames {
		want, err := json.Marshal(wire(f))
		if err != nil {
			t.Fatal(err)
		}
		want = unescapeHTML(want)
		if got := encode(&f); !bytes.Equal(got, want) {
			t.Errorf("encode(%+v)\n got %s\nwant %s", f, got, want)
		}
	}
}

// unescapeHTML undoes encoding/json's escaping of <, > and &.
func unescapeHTML(b []byte) []byte {
	r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	return []byte(r.Replace(string(b)))
}

// FuzzAppendString checks appendString against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é🚀", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, unescapeHTML(want)) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
