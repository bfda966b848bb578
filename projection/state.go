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

	index uint32 // in State.names
}

// Protected reports whether registering as u needs a password.
func (u User) Protected() bool { return len(u.PasswordHash) > 0 }

// Chat is a group chat.
type Chat struct {
	Name    string
	Creator string
	// Members are sorted; the slice is shared and must not be modified (a
	// change of members makes a new one).
	Members []string
	// LastID is the id of the chat's latest message.
	LastID ulid.ULID

	conv uint32 // in State.convs
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
// every read (the chat core holds a sync.RWMutex). Values returned by
// its methods stay valid after later Apply calls, unless a method says
// they are shared.
type State struct {
	users    map[string]User
	names    []string // by User.index
	chats    map[string]*Chat
	receipts map[string]*receipts // by actor
	last     ulid.ULID
	events   int

	// The conversations and their message indexes (conversation.go):
	// ids in log order, so a page is two binary searches and a slice.
	// They are rebuilt with the rest, in memory.
	convs     []*conversation
	pairConv  map[pair]uint32                // direct conversations by their two users
	userChats map[string][]string            // by user: chats they belong to
	partners  map[string]map[string]struct{} // by user: direct conversations
	messages  messageIndex                   // every message, by id
	seats     map[seatKey]*seat              // by user and conversation: marker, own messages
	edits     map[ulid.ULID][]ulid.ULID      // by message: its edits, in log order
	deleted   map[ulid.ULID]ulid.ULID        // by message: its deletion
	markers   map[string][]ulid.ULID         // by user: their ReadMarkerMoved events
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
		pairConv:  make(map[pair]uint32),
		userChats: make(map[string][]string),
		partners:  make(map[string]map[string]struct{}),
		seats:     make(map[seatKey]*seat),
		edits:     make(map[ulid.ULID][]ulid.ULID),
		deleted:   make(map[ulid.ULID]ulid.ULID),
		markers:   make(map[string][]ulid.ULID),
	}
}

// Apply folds e into the state. Events must be applied in log order; an
// event that contradicts the state (a second registration of a name, a
// message to an unknown chat) returns an error and changes nothing. An
// event that a cluster's race may make moot (an invitation of a member,
// an edit of a deleted message) changes nothing but the position.
func (s *State) Apply(e Event) error {
	if e.ID.Compare(s.last) <= 0 {
		return fmt.Errorf("apply %s: not after %s", e.ID, s.last)
	}
	var err error
	switch p := e.Payload.(type) {
	case UserRegistered:
		err = s.register(p)
	case ChatCreated:
		err = s.createChat(e, p)
	case GroupMessagePosted:
		c, ok := s.chats[p.Chat]
		if !ok {
			return fmt.Errorf("apply %s: no chat %q", e.ID, p.Chat)
		}
		c.LastID = e.ID
		s.addMessage(e.ID, c.conv, e.Actor)
	case DirectMessageSent:
		s.addMessage(e.ID, s.direct(e.Actor, p.Recipient), e.Actor)
	case ChatMembersAdded, ChatMemberLeft:
		err = s.changeMembers(e)
	case MessageEdited, MessageDeleted:
		err = s.changeMessage(e)
	case ReadMarkerMoved:
		err = s.moveMarker(e, p)
	case PasswordChanged:
		u, ok := s.users[e.Actor]
		if !ok {
			return fmt.Errorf("apply %s: no user %q", e.ID, e.Actor)
		}
		u.PasswordHash = p.PasswordHash
		s.users[e.Actor] = u
	default:
		return fmt.Errorf("apply %s: unknown payload %T", e.ID, e.Payload)
	}
	if err != nil {
		return fmt.Errorf("apply %s: %w", e.ID, err)
	}
	if e.RequestID != "" {
		s.remember(e)
	}
	s.Skip(e.ID)
	return nil
}

// Skip moves the state's position to id, after an event it cannot apply
// (one of a newer format, stored by another node), so that reading on
// from Last goes past it. id must be after Last.
func (s *State) Skip(id ulid.ULID) {
	s.last = id
	s.events++
}

func (s *State) register(p UserRegistered) error {
	if _, ok := s.users[p.Username]; ok {
		return fmt.Errorf("user %q already registered", p.Username)
	}
	s.users[p.Username] = User{Name: p.Username, PasswordHash: p.PasswordHash, index: uint32(len(s.names))}
	s.names = append(s.names, p.Username)
	return nil
}

func (s *State) createChat(e Event, p ChatCreated) error {
	if _, ok := s.chats[p.Chat]; ok {
		return fmt.Errorf("chat %q already exists", p.Chat)
	}
	c := &Chat{Name: p.Chat, Creator: e.Actor, Members: p.Members, LastID: e.ID, conv: s.newConversation(conversationKey{chat: p.Chat})}
	s.chats[p.Chat] = c
	for _, m := range p.Members {
		s.userChats[m] = append(s.userChats[m], p.Chat)
	}
	s.addMessage(e.ID, c.conv, e.Actor)
	return nil
}

// remember notes that e answers the request with e.RequestID. A
// registration does not count: a second one is a new session, not a retry.
func (s *State) remember(e Event) {
	if _, ok := e.Payload.(UserRegistered); !ok {
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

// ChatsOf returns the chats user belongs to, sorted by name.
func (s *State) ChatsOf(user string) []Chat {
	chats := make([]Chat, 0, len(s.userChats[user]))
	for _, name := range s.userChats[user] {
		chats = append(chats, *s.chats[name])
	}
	slices.SortFunc(chats, func(a, b Chat) int { return strings.Compare(a.Name, b.Name) })
	return chats
}

// Last returns the id of the last event applied, or the zero ULID.
func (s *State) Last() ulid.ULID { return s.last }

// Counts returns the number of users, chats and events applied.
func (s *State) Counts() (users, chats, events int) {
	return len(s.users), len(s.chats), s.events
}
