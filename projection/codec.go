package projection

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// ErrBadEvent is returned by Decode for bytes that are not a valid event.
var ErrBadEvent = errors.New("malformed event")

// FormatVersion is the schema version written in front of every encoded
// event. Decode accepts every version up to it.
const FormatVersion = 1

// Type codes in the encoding; never reuse or renumber one.
const (
	codeUserRegistered     byte = 1
	codeChatCreated        byte = 2
	codeGroupMessagePosted byte = 3
	codeDirectMessageSent  byte = 4
	codeChatMembersAdded   byte = 5
	codeChatMemberLeft     byte = 6
	codeMessageEdited      byte = 7
	codeMessageDeleted     byte = 8
	codeReadMarkerMoved    byte = 9
	codePasswordChanged    byte = 10
)

// Encoding limits; Decode refuses anything larger, so a corrupt length
// cannot make it allocate without bound.
const (
	maxMembers = 1 << 16
)

// Encode returns the stored form of e (without its id, which is the key):
// a version byte, a type byte, then length-prefixed fields. The format is
// compact so that replaying a large log stays cheap; `events dump` shows it
// as JSON.
func Encode(e Event) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, FormatVersion, 0)
	b = appendString(b, e.Actor)
	b = appendString(b, e.RequestID)
	switch p := e.Payload.(type) {
	case UserRegistered:
		b[1] = codeUserRegistered
		b = appendString(b, p.Username)
		b = appendBytes(b, p.PasswordHash)
	case ChatCreated:
		b[1] = codeChatCreated
		b = appendString(b, p.Chat)
		b = appendStrings(b, p.Members)
		b = appendString(b, p.Content)
	case GroupMessagePosted:
		b[1] = codeGroupMessagePosted
		b = appendString(b, p.Chat)
		b = appendString(b, p.Content)
	case DirectMessageSent:
		b[1] = codeDirectMessageSent
		b = appendString(b, p.Recipient)
		b = appendString(b, p.Content)
		b = appendBool(b, p.Random)
	case ChatMembersAdded:
		b[1] = codeChatMembersAdded
		b = appendString(b, p.Chat)
		b = appendStrings(b, p.Added)
	case ChatMemberLeft:
		b[1] = codeChatMemberLeft
		b = appendString(b, p.Chat)
	case MessageEdited:
		b[1] = codeMessageEdited
		b = append(b, p.Message[:]...)
		b = appendString(b, p.Content)
	case MessageDeleted:
		b[1] = codeMessageDeleted
		b = append(b, p.Message[:]...)
	case ReadMarkerMoved:
		b[1] = codeReadMarkerMoved
		b = appendString(b, p.Chat)
		b = appendString(b, p.Peer)
		b = append(b, p.Message[:]...)
	case PasswordChanged:
		b[1] = codePasswordChanged
		b = appendBytes(b, p.PasswordHash)
	default:
		return nil, fmt.Errorf("encode: unknown payload %T", e.Payload)
	}
	return b, nil
}

// Decode parses the stored form of the event with the given id. It never
// keeps a reference to data, which may be valid only briefly.
func Decode(id ulid.ULID, data []byte) (Event, error) {
	d := decoder{buf: data}
	version, code := d.byte(), d.byte()
	if d.err == nil && (version == 0 || version > FormatVersion) {
		return Event{}, fmt.Errorf("%w: %s: unknown format version %d", ErrBadEvent, id, version)
	}
	e := Event{ID: id, Actor: d.string(), RequestID: d.string()}
	switch code {
	case codeUserRegistered:
		p := UserRegistered{Username: d.string()}
		if h := d.bytes(); len(h) > 0 {
			p.PasswordHash = append([]byte(nil), h...)
		}
		e.Payload = p
	case codeChatCreated:
		e.Payload = ChatCreated{Chat: d.string(), Members: d.strings(), Content: d.string()}
	case codeGroupMessagePosted:
		e.Payload = GroupMessagePosted{Chat: d.string(), Content: d.string()}
	case codeDirectMessageSent:
		e.Payload = DirectMessageSent{Recipient: d.string(), Content: d.string(), Random: d.bool()}
	case codeChatMembersAdded:
		e.Payload = ChatMembersAdded{Chat: d.string(), Added: d.strings()}
	case codeChatMemberLeft:
		e.Payload = ChatMemberLeft{Chat: d.string()}
	case codeMessageEdited:
		e.Payload = MessageEdited{Message: d.id(), Content: d.string()}
	case codeMessageDeleted:
		e.Payload = MessageDeleted{Message: d.id()}
	case codeReadMarkerMoved:
		e.Payload = ReadMarkerMoved{Chat: d.string(), Peer: d.string(), Message: d.id()}
	case codePasswordChanged:
		p := PasswordChanged{}
		if h := d.bytes(); len(h) > 0 {
			p.PasswordHash = append([]byte(nil), h...)
		}
		e.Payload = p
	default:
		if d.err == nil {
			d.fail(fmt.Sprintf("type code %d", code))
		}
	}
	if d.err == nil && len(d.buf) > 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.buf)))
	}
	if d.err != nil {
		return Event{}, fmt.Errorf("%w: %s: %v", ErrBadEvent, id, d.err)
	}
	return e, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendStrings appends a count and the strings.
func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, m := range list {
		b = appendString(b, m)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// decoder reads fields until the first error, after which every read
// returns a zero value; the caller checks err once at the end.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New("bad " + what)
	}
	d.buf = nil
}

func (d *decoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail("length")
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("field length")
		return nil
	}
	s := d.buf[:n]
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

// strings reads what appendStrings wrote.
func (d *decoder) strings() []string {
	n := d.uvarint()
	if n > maxMembers || n > uint64(len(d.buf)) {
		d.fail("name count")
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = d.string()
	}
	return list
}

// id reads 16 raw bytes of a ULID.
func (d *decoder) id() ulid.ULID {
	var id ulid.ULID
	if len(d.buf) < len(id) {
		d.fail("id")
		return id
	}
	copy(id[:], d.buf)
	d.buf = d.buf[len(id):]
	return id
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bool")
	return false
}
