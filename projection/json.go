package projection

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// jsonEvent is the JSON view of an Event, as `chateau events dump` prints
// it. It never includes a password hash.
type jsonEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Time      string          `json:"time"`
	Version   int             `json:"v"`
	Actor     string          `json:"actor"`
	MessageID json.RawMessage `json:"messageID,omitempty"`
	Data      any             `json:"data"`
}

type jsonUserRegistered struct {
	Username  string `json:"username"`
	Protected bool   `json:"protected"`
}

type jsonChatCreated struct {
	Chat    string   `json:"chatname"`
	Members []string `json:"members"`
	Content string   `json:"content"`
}

type jsonGroupMessagePosted struct {
	Chat    string `json:"chatname"`
	Content string `json:"content"`
}

type jsonDirectMessageSent struct {
	Recipient string `json:"recipient"`
	Content   string `json:"content"`
	Random    bool   `json:"random,omitempty"`
}

type jsonChatMembersAdded struct {
	Chat  string   `json:"chatname"`
	Added []string `json:"added"`
}

type jsonChatMemberLeft struct {
	Chat string `json:"chatname"`
}

type jsonMessageEdited struct {
	Message string `json:"message"`
	Content string `json:"content"`
}

type jsonMessageDeleted struct {
	Message string `json:"message"`
}

type jsonReadMarkerMoved struct {
	Chat    string `json:"chatname,omitempty"`
	Peer    string `json:"recipient,omitempty"`
	Message string `json:"message"`
}

type jsonPasswordChanged struct {
	Protected bool `json:"protected"`
}

// MarshalJSON returns the event as one JSON object with its id, type, time
// (RFC 3339, UTC), schema version, actor, messageID and data. A password
// hash is shown only as "protected": true.
func (e Event) MarshalJSON() ([]byte, error) {
	j := jsonEvent{ID: e.ID.String(), Time: FormatTime(e.Time()), Version: FormatVersion, Actor: e.Actor}
	if e.RequestID != "" && json.Valid([]byte(e.RequestID)) {
		j.MessageID = json.RawMessage(e.RequestID)
	}
	switch p := e.Payload.(type) {
	case UserRegistered:
		j.Data = jsonUserRegistered{Username: p.Username, Protected: p.Protected()}
	case ChatCreated:
		j.Data = jsonChatCreated{Chat: p.Chat, Members: p.Members, Content: p.Content}
	case GroupMessagePosted:
		j.Data = jsonGroupMessagePosted(p)
	case DirectMessageSent:
		j.Data = jsonDirectMessageSent(p)
	case ChatMembersAdded:
		j.Data = jsonChatMembersAdded{Chat: p.Chat, Added: p.Added}
	case ChatMemberLeft:
		j.Data = jsonChatMemberLeft(p)
	case MessageEdited:
		j.Data = jsonMessageEdited{Message: p.Message.String(), Content: p.Content}
	case MessageDeleted:
		j.Data = jsonMessageDeleted{Message: p.Message.String()}
	case ReadMarkerMoved:
		j.Data = jsonReadMarkerMoved{Chat: p.Chat, Peer: p.Peer, Message: p.Message.String()}
	case PasswordChanged:
		j.Data = jsonPasswordChanged{Protected: true}
	default:
		return nil, fmt.Errorf("marshal event %s: unknown payload %T", e.ID, e.Payload)
	}
	j.Type = e.Payload.Type()
	return json.Marshal(j)
}

// Protected reports whether the registration set a password.
func (p UserRegistered) Protected() bool { return len(p.PasswordHash) > 0 }

// Text returns a one-line human-readable form of the event, without any
// password hash.
func (e Event) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %-18s %s", FormatTime(e.Time()), e.ID, e.Payload.Type(), e.Actor)
	switch p := e.Payload.(type) {
	case UserRegistered:
		if p.Protected() {
			b.WriteString(" (with password)")
		}
	case ChatCreated:
		fmt.Fprintf(&b, " -> #%s [%s]: %s", p.Chat, strings.Join(p.Members, ", "), strconv.Quote(p.Content))
	case GroupMessagePosted:
		fmt.Fprintf(&b, " -> #%s: %s", p.Chat, strconv.Quote(p.Content))
	case DirectMessageSent:
		random := ""
		if p.Random {
			random = " (random)"
		}
		fmt.Fprintf(&b, " -> @%s%s: %s", p.Recipient, random, strconv.Quote(p.Content))
	case ChatMembersAdded:
		fmt.Fprintf(&b, " -> #%s +[%s]", p.Chat, strings.Join(p.Added, ", "))
	case ChatMemberLeft:
		fmt.Fprintf(&b, " -> #%s (left)", p.Chat)
	case MessageEdited:
		fmt.Fprintf(&b, " -> %s: %s", p.Message, strconv.Quote(p.Content))
	case MessageDeleted:
		fmt.Fprintf(&b, " -> %s", p.Message)
	case ReadMarkerMoved:
		fmt.Fprintf(&b, " -> %s read up to %s", conversationText(p.Chat, p.Peer), p.Message)
	}
	return b.String()
}

// conversationText is a chat as #name, a direct conversation as @user.
func conversationText(chat, peer string) string {
	if chat != "" {
		return "#" + chat
	}
	return "@" + peer
}

// Involves reports whether user caused e or is addressed by it: its actor,
// the registered name, a member of the chat it creates, or the recipient.
func (e Event) Involves(user string) bool {
	if e.Actor == user {
		return true
	}
	switch p := e.Payload.(type) {
	case UserRegistered:
		return p.Username == user
	case ChatCreated:
		return slices.Contains(p.Members, user)
	case DirectMessageSent:
		return p.Recipient == user
	case ChatMembersAdded:
		return slices.Contains(p.Added, user)
	}
	return false
}

// ChatName returns the chat e creates or posts to, or "".
func (e Event) ChatName() string {
	switch p := e.Payload.(type) {
	case ChatCreated:
		return p.Chat
	case GroupMessagePosted:
		return p.Chat
	case ChatMembersAdded:
		return p.Chat
	case ChatMemberLeft:
		return p.Chat
	case ReadMarkerMoved:
		return p.Chat
	}
	return ""
}
