package projection_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// t0 is an arbitrary fixed instant for event ids.
var t0 = time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)

// idAt returns a ULID with the time t0+ms milliseconds and the given
// sequence number as its random part, so that ids order by (ms, seq).
func idAt(ms, seq uint64) ulid.ULID {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(t0) + ms); err != nil {
		panic(err)
	}
	for i := 15; i >= 6 && seq > 0; i-- {
		id[i] = byte(seq)
		seq >>= 8
	}
	return id
}

// hashBytes is a password hash with bytes of every kind, including ones
// that are not valid UTF-8.
var hashBytes = []byte("\x00\x01\xfe\xff$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5\x80")

// sampleEvents returns one or more events of every payload type, with the
// edge cases of the encoding: empty strings, unicode, bytes that are not
// UTF-8, long fields (multi-byte length prefixes) and both booleans.
func sampleEvents() []projection.Event {
	long := strings.Repeat("é", 100) // 200 bytes: a two-byte length prefix
	huge := strings.Repeat("x", 70000)
	events := []projection.Event{
		{Actor: "alice", Payload: projection.UserRegistered{Username: "alice"}},
		{Actor: "bob", RequestID: `"r1"`, Payload: projection.UserRegistered{Username: "bob", PasswordHash: hashBytes}},
		{Payload: projection.UserRegistered{}},
		{Actor: "carol", RequestID: "42", Payload: projection.ChatCreated{
			Chat: "general", Members: []string{"alice", "bob", "carol"}, Content: "hello all",
		}},
		{Actor: "dave", Payload: projection.ChatCreated{Chat: "☕ café 咖啡", Members: []string{"dave"}, Content: ""}},
		{Actor: "erin", Payload: projection.ChatCreated{Chat: "", Members: nil, Content: long}},
		{Actor: "erin", Payload: projection.ChatCreated{Chat: "x", Members: []string{"", "", "a"}, Content: "\x00\xff"}},
		{Actor: "alice", RequestID: `{"n":1}`, Payload: projection.GroupMessagePosted{Chat: "general", Content: "hi 👋\nsecond line"}},
		{Actor: "alice", Payload: projection.GroupMessagePosted{}},
		{Actor: "alice", Payload: projection.GroupMessagePosted{Chat: "general", Content: huge}},
		{Actor: "bob", Payload: projection.DirectMessageSent{Recipient: "alice", Content: "psst", Random: false}},
		{Actor: "bob", RequestID: "not json {", Payload: projection.DirectMessageSent{Recipient: "carol", Content: "", Random: true}},
		{Actor: long, RequestID: long, Payload: projection.DirectMessageSent{Recipient: long, Content: long, Random: true}},
		{Actor: "carol", RequestID: "7", Payload: projection.ChatMembersAdded{Chat: "general", Added: []string{"dave", "erin"}}},
		{Actor: "carol", Payload: projection.ChatMemberLeft{Chat: "general"}},
		{Actor: "alice", RequestID: `"e1"`, Payload: projection.MessageEdited{Message: idAt(7, 1), Content: "hi again"}},
		{Actor: "alice", Payload: projection.MessageDeleted{Message: idAt(7, 1)}},
		{Actor: "bob", Payload: projection.ReadMarkerMoved{Chat: "general", Message: idAt(7, 1)}},
		{Actor: "bob", Payload: projection.ReadMarkerMoved{Peer: "alice", Message: idAt(10, 1)}},
		{Actor: "bob", Payload: projection.PasswordChanged{PasswordHash: hashBytes}},
	}
	for i := range events {
		events[i].ID = idAt(uint64(i), 1)
	}
	return events
}

// name describes e for test names.
func name(e projection.Event) string {
	s := fmt.Sprintf("%s/%+v", e.Payload.Type(), e.Payload)
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// equalEvents compares events field by field; a nil and an empty slice are
// equal (the encoding does not tell them apart).
func equalEvents(a, b projection.Event) bool {
	if a.ID != b.ID || a.Actor != b.Actor || a.RequestID != b.RequestID {
		return false
	}
	switch p := a.Payload.(type) {
	case projection.UserRegistered:
		q, ok := b.Payload.(projection.UserRegistered)
		return ok && p.Username == q.Username && bytes.Equal(p.PasswordHash, q.PasswordHash)
	case projection.ChatCreated:
		q, ok := b.Payload.(projection.ChatCreated)
		return ok && p.Chat == q.Chat && slices.Equal(p.Members, q.Members) && p.Content == q.Content
	case projection.GroupMessagePosted:
		q, ok := b.Payload.(projection.GroupMessagePosted)
		return ok && p == q
	case projection.DirectMessageSent:
		q, ok := b.Payload.(projection.DirectMessageSent)
		return ok && p == q
	case projection.ChatMembersAdded:
		q, ok := b.Payload.(projection.ChatMembersAdded)
		return ok && p.Chat == q.Chat && slices.Equal(p.Added, q.Added)
	case projection.PasswordChanged:
		q, ok := b.Payload.(projection.PasswordChanged)
		return ok && bytes.Equal(p.PasswordHash, q.PasswordHash)
	case projection.ChatMemberLeft, projection.MessageEdited, projection.MessageDeleted, projection.ReadMarkerMoved:
		return a.Payload == b.Payload
	}
	return false
}

// mustEncode encodes e or panics.
func mustEncode(e projection.Event) []byte {
	data, err := projection.Encode(e)
	if err != nil {
		panic(err)
	}
	return data
}
