package projection

import (
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
)

// conversation is a chat, or the direct conversation of two users (both
// directions, random messages included).
type conversation struct {
	key conversationKey
	// ids are its messages (a chat's creation carries the first), in log
	// order.
	ids []ulid.ULID
	// changes are the ids of the events that changed it after the fact:
	// membership changes, edits and deletions, in log order (for replays).
	changes []ulid.ULID
	// deleted are its deleted messages by position in ids, sorted.
	deleted []deletion
}

// conversationKey names a conversation: a chat by name, or two users.
type conversationKey struct {
	chat string
	pair pair
}

// deletion is a deleted message of a conversation: its position and the
// index of its sender.
type deletion struct {
	pos    int
	sender uint32
}

// pair names the direct conversation of two users, in either direction.
type pair struct{ a, b string }

func pairOf(x, y string) pair {
	if x > y {
		x, y = y, x
	}
	return pair{x, y}
}

// seat is a user's place in a conversation: how far they have read, and
// which messages are their own (positions in ids, ascending), so that what
// they have not read counts in two binary searches.
type seat struct {
	marker ulid.ULID
	own    []uint32
}

// seatKey is a user's index and a conversation's, in one word: a map with
// such keys is hashed faster than with a two-field struct.
type seatKey uint64

func seatOf(user, conv uint32) seatKey { return seatKey(user)<<32 | seatKey(conv) }

// noUser is the sender index of a message whose actor never registered
// (which the core never stores).
const noUser = ^uint32(0)

// newConversation adds a conversation and returns its index.
func (s *State) newConversation(k conversationKey) uint32 {
	s.convs = append(s.convs, &conversation{key: k})
	return uint32(len(s.convs) - 1)
}

// direct returns the index of the direct conversation of two users,
// adding it on their first message.
func (s *State) direct(x, y string) uint32 {
	k := pairOf(x, y)
	if i, ok := s.pairConv[k]; ok {
		return i
	}
	i := s.newConversation(conversationKey{pair: k})
	s.pairConv[k] = i
	s.partner(x, y)
	s.partner(y, x)
	return i
}

func (s *State) partner(user, other string) {
	set := s.partners[user]
	if set == nil {
		set = make(map[string]struct{})
		s.partners[user] = set
	}
	set[other] = struct{}{}
}

// addMessage appends message id, by sender, to conversation conv.
func (s *State) addMessage(id ulid.ULID, conv uint32, sender string) {
	u, ok := s.users[sender]
	if !ok {
		u.index = noUser
	}
	s.addMessageBy(id, conv, u)
}

// addMessageBy is addMessage for the sender u, of index noUser if the
// sender never registered.
func (s *State) addMessageBy(id ulid.ULID, conv uint32, u User) {
	c := s.convs[conv]
	c.ids = append(c.ids, id)
	if u.index != noUser {
		st := s.seat(u.index, conv)
		st.own = append(st.own, uint32(len(c.ids)-1))
	}
	s.messages.add(indexedMessage{id: id, conv: conv, sender: u.index})
}

// seat returns the seat of user (an index) in conversation conv, adding it.
func (s *State) seat(user, conv uint32) *seat {
	k := seatOf(user, conv)
	st := s.seats[k]
	if st == nil {
		st = &seat{}
		s.seats[k] = st
	}
	return st
}

// ChatLog returns the ids of a chat's creation and messages, in log order.
// The slice is shared: the caller reads it under the same lock as Apply and
// must not modify it.
func (s *State) ChatLog(chat string) []ulid.ULID {
	if c, ok := s.chats[chat]; ok {
		return s.convs[c.conv].ids
	}
	return nil
}

// DirectLog returns the ids of the direct messages between two users, both
// directions and random ones included, in log order. It is shared like
// ChatLog's.
func (s *State) DirectLog(user, other string) []ulid.ULID {
	if i, ok := s.pairConv[pairOf(user, other)]; ok {
		return s.convs[i].ids
	}
	return nil
}

// Inbox returns the id lists that hold every message addressed to user:
// those of each of their chats and of each of their direct conversations.
// The lists are shared like ChatLog's; merged, they are the user's inbox
// (their own messages included, for the caller to skip).
func (s *State) Inbox(user string) [][]ulid.ULID {
	var lists [][]ulid.ULID
	for _, i := range s.conversationsOf(user) {
		lists = append(lists, s.convs[i].ids)
	}
	return lists
}

// Changes returns the id lists that hold every event that changed one of
// user's conversations after the fact (membership changes of their chats,
// edits and deletions of messages in their conversations), and the moves
// of their own read markers. They are shared like ChatLog's.
func (s *State) Changes(user string) [][]ulid.ULID {
	var lists [][]ulid.ULID
	for _, i := range s.conversationsOf(user) {
		lists = append(lists, s.convs[i].changes)
	}
	return append(lists, s.markers[user])
}

// conversationsOf returns the indexes of user's chats and direct
// conversations.
func (s *State) conversationsOf(user string) []uint32 {
	var out []uint32
	for _, chat := range s.userChats[user] {
		out = append(out, s.chats[chat].conv)
	}
	for other := range s.partners[user] {
		out = append(out, s.pairConv[pairOf(user, other)])
	}
	return out
}

// Direct is one of a user's direct conversations, as ChatListResponse
// lists it.
type Direct struct {
	// With is the other user.
	With   string
	LastID ulid.ULID
	Unread int
}

// DirectsOf returns user's direct conversations, sorted by the other
// user's name.
func (s *State) DirectsOf(user string) []Direct {
	out := make([]Direct, 0, len(s.partners[user]))
	for other := range s.partners[user] {
		conv := s.pairConv[pairOf(user, other)]
		ids := s.convs[conv].ids
		out = append(out, Direct{With: other, LastID: ids[len(ids)-1], Unread: s.unread(user, conv)})
	}
	slices.SortFunc(out, func(a, b Direct) int { return strings.Compare(a.With, b.With) })
	return out
}

// Unread returns how many messages of chat, by others than user and not
// deleted, come after user's read marker.
func (s *State) Unread(user, chat string) int {
	c, ok := s.chats[chat]
	if !ok {
		return 0
	}
	return s.unread(user, c.conv)
}

// unread counts in two binary searches and a walk over the deleted
// messages after the marker.
func (s *State) unread(user string, conv uint32) int {
	u, ok := s.users[user]
	if !ok {
		return 0
	}
	c := s.convs[conv]
	st := s.seats[seatOf(u.index, conv)]
	if st == nil {
		st = &seat{}
	}
	read := upperBound(c.ids, st.marker)
	own, _ := slices.BinarySearch(st.own, uint32(read))
	n := len(c.ids) - read - (len(st.own) - own)
	for _, d := range c.deleted[deletedFrom(c.deleted, read):] {
		if d.sender != u.index {
			n--
		}
	}
	return n
}

// deletedFrom returns the index of the first deletion at pos or after.
func deletedFrom(ds []deletion, pos int) int {
	i, _ := slices.BinarySearchFunc(ds, pos, func(d deletion, p int) int { return d.pos - p })
	return i
}

// Marker returns how far user has read a chat (chat != "") or their
// direct conversation with peer: the id of the newest message read, or
// the zero ULID.
func (s *State) Marker(user, chat, peer string) ulid.ULID {
	conv, ok := s.conversation(user, chat, peer)
	u, known := s.users[user]
	if !ok || !known {
		return ulid.ULID{}
	}
	if st := s.seats[seatOf(u.index, conv)]; st != nil {
		return st.marker
	}
	return ulid.ULID{}
}

// conversation returns the index of a chat (chat != "") or of user's
// direct conversation with peer.
func (s *State) conversation(user, chat, peer string) (uint32, bool) {
	if chat != "" {
		c, ok := s.chats[chat]
		if !ok {
			return 0, false
		}
		return c.conv, true
	}
	i, ok := s.pairConv[pairOf(user, peer)]
	return i, ok
}

// Message is a stored message as the state knows it: where it is, who
// sent it, and what became of it.
type Message struct {
	ID     ulid.ULID
	Sender string
	// Chat is the message's chat, or "" for a direct message between
	// Sender and Peer.
	Chat string
	Peer string
	// LastEdit is the id of its newest edit, or zero.
	LastEdit ulid.ULID
	// Deleted is the id of its deletion, or zero.
	Deleted ulid.ULID
}

// Message returns the message with id, which may be in a chat, a direct
// conversation, or a chat's creation.
func (s *State) Message(id ulid.ULID) (Message, bool) {
	ref, ok := s.messages.find(id)
	if !ok {
		return Message{}, false
	}
	m := Message{ID: id, Deleted: s.deleted[id]}
	if ref.sender != noUser {
		m.Sender = s.names[ref.sender]
	}
	if edits := s.edits[id]; len(edits) > 0 {
		m.LastEdit = edits[len(edits)-1]
	}
	k := s.convs[ref.conv].key
	m.Chat = k.chat
	if k.chat == "" {
		m.Peer = k.pair.a
		if m.Peer == m.Sender {
			m.Peer = k.pair.b
		}
	}
	return m, true
}

// Edits returns the ids of the edits of message id, in log order. The
// slice is shared like ChatLog's.
func (s *State) Edits(id ulid.ULID) []ulid.ULID { return s.edits[id] }

// Readable reports whether user may read the conversation that m is in:
// a member of its chat, or one of its two users.
func (s *State) Readable(m Message, user string) bool {
	if m.Chat != "" {
		c, ok := s.chats[m.Chat]
		return ok && c.HasMember(user)
	}
	return m.Sender == user || m.Peer == user
}

// Contacts returns the users who share a chat or a direct conversation
// with user, without user, each once, in no order.
func (s *State) Contacts(user string) []string {
	seen := make(map[string]struct{})
	for _, chat := range s.userChats[user] {
		for _, m := range s.chats[chat].Members {
			seen[m] = struct{}{}
		}
	}
	for other := range s.partners[user] {
		seen[other] = struct{}{}
	}
	delete(seen, user)
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	return out
}
