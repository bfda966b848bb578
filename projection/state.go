package projection

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
)

// User is a registered username.
type User struct {
	Name string
	// PasswordHash is empty for an unprotected name.
	PasswordHash []byte
}

// Protected reports whether registering as u needs a password.
func (u User) Protected() bool { return len(u.PasswordHash) > 0 }

// Chat is a group chat.
type Chat struct {
	Name    string
	Creator string
	// Members are sorted; the slice is shared and must not be modified.
	Members []string
	// LastID is the id of the chat's latest message.
	LastID ulid.ULID
}

// HasMember reports whether user belongs to c.
func (c Chat) HasMember(user string) bool {
	_, ok := slices.BinarySearch(c.Members, user)
	return ok
}

// State is the projection of the whole log: every user and chat, as of the
// last event applied.
//
// A State is not safe for concurrent use: the caller serialises Apply with
// every read (the WebSocket layer holds a sync.RWMutex). Values returned by
// its methods stay valid after later Apply calls.
type State struct {
	users    map[string]User
	chats    map[string]*Chat
	receipts map[string]*receipts // by actor
	last     ulid.ULID
	events   int

	// The message indexes: ids in log order, so a page is two binary
	// searches and a slice. They are rebuilt with the rest, in memory.
	chatLog   map[string][]ulid.ULID         // by chat: its creation and messages
	directLog map[pair][]ulid.ULID           // by conversation: both directions
	userChats map[string][]string            // by user: chats they belong to
	partners  map[string]map[string]struct{} // by user: direct conversations
}

// pair names the direct conversation of two users, in either direction.
type pair struct{ a, b string }

func pairOf(x, y string) pair {
	if x > y {
		x, y = y, x
	}
	return pair{x, y}
}

// MaxReceipts is how many of each user's most recent messageIDs are
// remembered for retries; an older messageID counts as new. A client
// retries what was in flight when its connection dropped, and the server
// lets a connection have at most 64 requests unanswered by default.
const MaxReceipts = 64

// receipts remembers which events a user's most recent requests with a
// messageID stored, so that a retry gets the original answer: a ring of
// (hash of the messageID, event id), 24 bytes an entry and no pointers,
// which keeps a replay of millions of events cheap. The caller confirms a
// match against the stored event, which records its messageID.
type receipts struct {
	ring []receipt
	next int // the oldest entry once the ring is full
}

type receipt struct {
	hash uint64
	id   ulid.ULID
}

func (r *receipts) add(hash uint64, id ulid.ULID) {
	if len(r.ring) < MaxReceipts {
		r.ring = append(r.ring, receipt{hash, id})
		return
	}
	r.ring[r.next] = receipt{hash, id}
	r.next = (r.next + 1) % MaxReceipts
}

// find returns the newest entry with hash.
func (r *receipts) find(hash uint64) (ulid.ULID, bool) {
	n := len(r.ring)
	for k := 1; k <= n; k++ {
		if rc := r.ring[(r.next-k+n)%n]; rc.hash == hash {
			return rc.id, true
		}
	}
	return ulid.ULID{}, false
}

// RequestHash is the hash under which a messageID is remembered: FNV-1a,
// 64 bits. The hashes are kept in memory only, rebuilt from the log.
func RequestHash[T string | []byte](requestID T) uint64 {
	// The compiler inlines New64a and its methods and keeps the state on
	// the stack, and converts a string without copying: no allocation per
	// message (BenchmarkRequestHash).
	h := fnv.New64a()
	h.Write([]byte(requestID))
	return h.Sum64()
}

// NewState returns the state of an empty log.
func NewState() *State {
	return &State{
		users:     make(map[string]User),
		chats:     make(map[string]*Chat),
		receipts:  make(map[string]*receipts),
		chatLog:   make(map[string][]ulid.ULID),
		directLog: make(map[pair][]ulid.ULID),
		userChats: make(map[string][]string),
		partners:  make(map[string]map[string]struct{}),
	}
}

// Apply folds e into the state. Events must be applied in log order; an
// event that contradicts the state (a second registration of a name, a
// message to an unknown chat) returns an error and changes nothing.
func (s *State) Apply(e Event) error {
	if e.ID.Compare(s.last) <= 0 {
		return fmt.Errorf("apply %s: not after %s", e.ID, s.last)
	}
	switch p := e.Payload.(type) {
	case UserRegistered:
		if _, ok := s.users[p.Username]; ok {
			return fmt.Errorf("apply %s: user %q already registered", e.ID, p.Username)
		}
		s.users[p.Username] = User{Name: p.Username, PasswordHash: p.PasswordHash}
	case ChatCreated:
		if _, ok := s.chats[p.Chat]; ok {
			return fmt.Errorf("apply %s: chat %q already exists", e.ID, p.Chat)
		}
		s.chats[p.Chat] = &Chat{Name: p.Chat, Creator: e.Actor, Members: p.Members, LastID: e.ID}
		s.chatLog[p.Chat] = append(s.chatLog[p.Chat], e.ID)
		for _, m := range p.Members {
			s.userChats[m] = append(s.userChats[m], p.Chat)
		}
	case GroupMessagePosted:
		c, ok := s.chats[p.Chat]
		if !ok {
			return fmt.Errorf("apply %s: no chat %q", e.ID, p.Chat)
		}
		c.LastID = e.ID
		s.chatLog[p.Chat] = append(s.chatLog[p.Chat], e.ID)
	case DirectMessageSent:
		k := pairOf(e.Actor, p.Recipient)
		if len(s.directLog[k]) == 0 {
			s.partner(e.Actor, p.Recipient)
			s.partner(p.Recipient, e.Actor)
		}
		s.directLog[k] = append(s.directLog[k], e.ID)
	default:
		return fmt.Errorf("apply %s: unknown payload %T", e.ID, e.Payload)
	}
	if e.RequestID != "" {
		s.remember(e)
	}
	s.last = e.ID
	s.events++
	return nil
}

// remember notes that e answers the request with e.RequestID. Only message
// events count: a second registration is a new session, not a retry.
func (s *State) remember(e Event) {
	switch e.Payload.(type) {
	case ChatCreated, GroupMessagePosted, DirectMessageSent:
		s.rememberHash(e.Actor, RequestHash(e.RequestID), e.ID)
	}
}

func (s *State) rememberHash(actor string, hash uint64, id ulid.ULID) {
	r := s.receipts[actor]
	if r == nil {
		r = &receipts{}
		s.receipts[actor] = r
	}
	r.add(hash, id)
}

// Receipt returns the id of the event that stored user's request with the
// given messageID, if it is among the user's MaxReceipts most recent ones.
// It matches by hash: the caller confirms that the event's RequestID is
// requestID.
func (s *State) Receipt(user, requestID string) (ulid.ULID, bool) {
	r := s.receipts[user]
	if r == nil {
		return ulid.ULID{}, false
	}
	return r.find(RequestHash(requestID))
}

// User returns the registered user name.
func (s *State) User(name string) (User, bool) {
	u, ok := s.users[name]
	return u, ok
}

// Chat returns a copy of the chat called name.
func (s *State) Chat(name string) (Chat, bool) {
	c, ok := s.chats[name]
	if !ok {
		return Chat{}, false
	}
	return *c, true
}

func (s *State) partner(user, other string) {
	set := s.partners[user]
	if set == nil {
		set = make(map[string]struct{})
		s.partners[user] = set
	}
	set[other] = struct{}{}
}

// ChatsOf returns the chats user belongs to, sorted by name.
func (s *State) ChatsOf(user string) []Chat {
	chats := make([]Chat, 0, len(s.userChats[user]))
	for _, name := range s.userChats[user] {
		chats = append(chats, *s.chats[name])
	}
	slices.SortFunc(chats, func(a, b Chat) int { return strings.Compare(a.Name, b.Name) })
	return chats
}

// ChatLog returns the ids of a chat's creation and messages, in log order.
// The slice is shared: the caller reads it under the same lock as Apply and
// must not modify it.
func (s *State) ChatLog(chat string) []ulid.ULID { return s.chatLog[chat] }

// DirectLog returns the ids of the direct messages between two users, both
// directions and random ones included, in log order. It is shared like
// ChatLog's.
func (s *State) DirectLog(user, other string) []ulid.ULID { return s.directLog[pairOf(user, other)] }

// Inbox returns the id lists that hold every message addressed to user:
// those of each of their chats and of each of their direct conversations.
// The lists are shared like ChatLog's; merged, they are the user's inbox
// (their own messages included, for the caller to skip).
func (s *State) Inbox(user string) [][]ulid.ULID {
	var lists [][]ulid.ULID
	for _, chat := range s.userChats[user] {
		lists = append(lists, s.chatLog[chat])
	}
	for other := range s.partners[user] {
		lists = append(lists, s.directLog[pairOf(user, other)])
	}
	return lists
}

// Last returns the id of the last event applied, or the zero ULID.
func (s *State) Last() ulid.ULID { return s.last }

// Counts returns the number of users, chats and events applied.
func (s *State) Counts() (users, chats, events int) {
	return len(s.users), len(s.chats), s.events
}
