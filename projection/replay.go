package projection

import (
	"fmt"

	"github.com/oklog/ulid/v2"
)

// ApplyEncoded applies the event stored as data under id: the same as
// Decode followed by Apply, but cheaper for messages, which are nearly all
// of a log: it skips their content (the state keeps none) and takes the
// actor's and chat's names from the state instead of allocating them, so
// that rebuilding the state from a large log stays fast. data is not kept.
func (s *State) ApplyEncoded(id ulid.ULID, data []byte) error {
	if len(data) < 2 || data[0] != FormatVersion || (data[1] != codeGroupMessagePosted && data[1] != codeDirectMessageSent) {
		e, err := Decode(id, data)
		if err != nil {
			return err
		}
		return s.Apply(e)
	}
	d := decoder{buf: data[2:]}
	e := Event{ID: id, Actor: s.userName(d.bytes())}
	// The messageID is remembered by its hash only; no need for a string.
	req := d.bytes()
	switch data[1] {
	case codeGroupMessagePosted:
		chat := d.bytes()
		d.bytes() // content
		name := string(chat)
		if c, ok := s.chats[string(chat)]; ok {
			name = c.Name
		}
		e.Payload = GroupMessagePosted{Chat: name}
	case codeDirectMessageSent:
		recipient := s.userName(d.bytes())
		d.bytes() // content
		e.Payload = DirectMessageSent{Recipient: recipient, Random: d.bool()}
	}
	if d.err == nil && len(d.buf) > 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.buf)))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadEvent, id, d.err)
	}
	if err := s.Apply(e); err != nil {
		return err
	}
	if len(req) > 0 {
		s.rememberHash(e.Actor, RequestHash(req), id)
	}
	return nil
}

// userName returns name as a string, sharing the registered user's copy
// when there is one.
func (s *State) userName(name []byte) string {
	if u, ok := s.users[string(name)]; ok {
		return u.Name
	}
	return string(name)
}
