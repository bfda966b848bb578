package projection

import (
	"fmt"

	"github.com/oklog/ulid/v2"
)

// ApplyEncoded applies the event stored as data under id: the same as
// Decode followed by Apply, but cheaper for messages, which are nearly all
// of a log: it skips their content (the state keeps none), takes the
// actor's and chat's names from the state instead of allocating them, and
// looks each name up once, so that rebuilding the state from a large log
// stays fast. data is not kept.
func (s *State) ApplyEncoded(id ulid.ULID, data []byte) error {
	if len(data) < 2 || data[0] != FormatVersion || (data[1] != codeGroupMessagePosted && data[1] != codeDirectMessageSent) {
		e, err := Decode(id, data)
		if err != nil {
			return err
		}
		return s.Apply(e)
	}
	if id.Compare(s.last) <= 0 {
		return fmt.Errorf("apply %s: not after %s", id, s.last)
	}
	d := decoder{buf: data[2:]}
	actor, known := s.users[string(d.bytes())]
	// The messageID is remembered by its hash only; no need for a string.
	req := d.bytes()
	to := d.bytes() // the chat, or the recipient
	d.bytes()       // content
	if data[1] == codeDirectMessageSent {
		d.bool() // random
	}
	if d.err == nil && len(d.buf) > 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.buf)))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadEvent, id, d.err)
	}
	group := data[1] == codeGroupMessagePosted
	var c *Chat
	if group {
		c = s.chats[string(to)]
	}
	if !known || group && c == nil {
		// Not as a server stores it: Apply says what is wrong with it.
		e, err := Decode(id, data)
		if err != nil {
			return err
		}
		return s.Apply(e)
	}
	var conv uint32
	if group {
		c.LastID, conv = id, c.conv
	} else {
		conv = s.direct(actor.Name, s.userName(to))
	}
	s.addMessageBy(id, conv, actor)
	if len(req) > 0 {
		s.rememberHash(actor.Name, RequestHash(req), id)
	}
	s.Skip(id)
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
