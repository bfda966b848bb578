package projection

import (
	"fmt"
	"slices"

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
	users  map[string]User
	chats  map[string]*Chat
	last   ulid.ULID
	events int
}

// NewState returns the state of an empty log.
func NewState() *State {
	return &State{users: make(map[string]User), chats: make(map[string]*Chat)}
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
	case GroupMessagePosted:
		c, ok := s.chats[p.Chat]
		if !ok {
			return fmt.Errorf("apply %s: no chat %q", e.ID, p.Chat)
		}
		c.LastID = e.ID
	case DirectMessageSent:
	default:
		return fmt.Errorf("apply %s: unknown payload %T", e.ID, e.Payload)
	}
	s.last = e.ID
	s.events++
	return nil
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

// Last returns the id of the last event applied, or the zero ULID.
func (s *State) Last() ulid.ULID { return s.last }

// Counts returns the number of users, chats and events applied.
func (s *State) Counts() (users, chats, events int) {
	return len(s.users), len(s.chats), s.events
}
