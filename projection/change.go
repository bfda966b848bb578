package projection

import (
	"errors"
	"fmt"
	"slices"

	"github.com/oklog/ulid/v2"
)

// changeMembers applies a ChatMembersAdded or a ChatMemberLeft. The
// members list is replaced, never modified, since Chat values share it.
// Names already members, or a leave of a non-member, change nothing: in a
// cluster two nodes may invite the same user at once.
func (s *State) changeMembers(e Event) error {
	var name string
	switch p := e.Payload.(type) {
	case ChatMembersAdded:
		name = p.Chat
	case ChatMemberLeft:
		name = p.Chat
	}
	c, ok := s.chats[name]
	if !ok {
		return fmt.Errorf("no chat %q", name)
	}
	switch p := e.Payload.(type) {
	case ChatMembersAdded:
		for _, u := range p.Added {
			if _, ok := s.users[u]; !ok {
				return fmt.Errorf("no user %q", u)
			}
		}
		for _, u := range p.Added {
			s.join(c, u)
		}
	case ChatMemberLeft:
		i, ok := slices.BinarySearch(c.Members, e.Actor)
		if !ok {
			break
		}
		c.Members = slices.Delete(slices.Clone(c.Members), i, i+1)
		s.userChats[e.Actor] = slices.DeleteFunc(slices.Clone(s.userChats[e.Actor]), func(n string) bool { return n == name })
	}
	conv := s.convs[c.conv]
	conv.changes = append(conv.changes, e.ID)
	s.membersAfter[e.ID] = c.Members
	return nil
}

// MembersAfter returns the members of a chat right after the change of
// members stored as id (a ChatMembersAdded or a ChatMemberLeft), sorted,
// for a replay or a retry to tell them as they were. The slice is shared
// and must not be modified.
func (s *State) MembersAfter(id ulid.ULID) ([]string, bool) {
	m, ok := s.membersAfter[id]
	return m, ok
}

// join makes user a member of c, with everything before it read.
func (s *State) join(c *Chat, user string) {
	i, found := slices.BinarySearch(c.Members, user)
	if found {
		return
	}
	c.Members = slices.Insert(slices.Clone(c.Members), i, user)
	s.userChats[user] = append(s.userChats[user], c.Name)
	st := s.seat(s.users[user].index, c.conv)
	if st.marker.Compare(c.LastID) < 0 {
		st.marker = c.LastID
	}
}

// errNoMessage is an edit or deletion of a message the state does not hold.
var errNoMessage = errors.New("no such message")

// changeMessage applies a MessageEdited or a MessageDeleted. A change of a
// deleted message changes nothing (a race of two nodes).
func (s *State) changeMessage(e Event) error {
	var id ulid.ULID
	switch p := e.Payload.(type) {
	case MessageEdited:
		id = p.Message
	case MessageDeleted:
		id = p.Message
	}
	ref, ok := s.messages.find(id)
	if !ok {
		return fmt.Errorf("%w: %s", errNoMessage, id)
	}
	if _, gone := s.deleted[id]; gone {
		return nil
	}
	conv := s.convs[ref.conv]
	switch e.Payload.(type) {
	case MessageEdited:
		s.edits[id] = append(s.edits[id], e.ID)
	case MessageDeleted:
		s.deleted[id] = e.ID
		pos, _ := slices.BinarySearchFunc(conv.ids, id, compareID)
		at := deletedFrom(conv.deleted, pos)
		conv.deleted = slices.Insert(conv.deleted, at, deletion{pos: pos, sender: ref.sender})
	}
	conv.changes = append(conv.changes, e.ID)
	return nil
}

// moveMarker applies a ReadMarkerMoved: the marker only moves forward.
func (s *State) moveMarker(e Event, p ReadMarkerMoved) error {
	u, ok := s.users[e.Actor]
	if !ok {
		return fmt.Errorf("no user %q", e.Actor)
	}
	conv, ok := s.conversation(e.Actor, p.Chat, p.Peer)
	if !ok {
		return fmt.Errorf("no conversation %q/%q", p.Chat, p.Peer)
	}
	if st := s.seat(u.index, conv); st.marker.Compare(p.Message) < 0 {
		st.marker = p.Message
	}
	s.markers[e.Actor] = append(s.markers[e.Actor], e.ID)
	return nil
}
