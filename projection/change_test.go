package projection_test

import (
	"slices"
	"testing"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// mustApplyAll applies events in order, failing the test on an error.
func mustApplyAll(t *testing.T, s *projection.State, events ...projection.Event) {
	t.Helper()
	for _, e := range events {
		if err := s.Apply(e); err != nil {
			t.Fatalf("apply %s %+v: %v", e.Payload.Type(), e.Payload, err)
		}
	}
}

func TestState_Apply_Members(t *testing.T) {
	s := seeded(t) // general: alice, bob; messages 4 (alice), 10 (bob)
	mustApplyAll(t, s,
		projection.Event{ID: idAt(20, 0), Actor: "bob", Payload: projection.ChatMembersAdded{Chat: "general", Added: []string{"carol"}}},
		projection.Event{ID: idAt(21, 0), Actor: "bob", Payload: projection.ChatMembersAdded{Chat: "general", Added: []string{"carol"}}}, // moot
		projection.Event{ID: idAt(22, 0), Actor: "alice", Payload: projection.ChatMemberLeft{Chat: "general"}},
		projection.Event{ID: idAt(23, 0), Actor: "alice", Payload: projection.ChatMemberLeft{Chat: "general"}}, // moot
	)
	c, _ := s.Chat("general")
	if want := []string{"bob", "carol"}; !slices.Equal(c.Members, want) {
		t.Errorf("members = %v, want %v", c.Members, want)
	}
	if got := s.ChatsOf("alice"); len(got) != 0 {
		t.Errorf("alice still in %v after leaving", got)
	}
	if got := s.ChatsOf("carol"); len(got) != 1 {
		t.Errorf("carol's chats = %v, want general", got)
	}
	// Carol joined after both messages: nothing unread for her.
	if n := s.Unread("carol", "general"); n != 0 {
		t.Errorf("carol's unread = %d, want 0 (history before the invite counts as read)", n)
	}
	if s.Last() != idAt(23, 0) {
		t.Errorf("last = %s, want the moot leave's id", s.Last())
	}
	err := s.Apply(projection.Event{ID: idAt(24, 0), Actor: "bob", Payload: projection.ChatMembersAdded{Chat: "general", Added: []string{"nobody"}}})
	if err == nil {
		t.Error("an invitation of an unknown user applied")
	}
}

func TestState_Unread(t *testing.T) {
	s := seeded(t)
	post := func(ms uint64, actor string) projection.Event {
		return projection.Event{ID: idAt(ms, 0), Actor: actor, Payload: projection.GroupMessagePosted{Chat: "general", Content: "m"}}
	}
	mustApplyAll(t, s, post(11, "alice"), post(12, "bob"), post(13, "bob"), post(14, "alice"))
	// bob: unread = alice's 4, 11, 14.
	tests := []struct {
		name  string
		event projection.Event
		bob   int
		alice int
	}{
		{"nothing read", projection.Event{}, 3, 3},
		{"bob reads to 11", projection.Event{ID: idAt(30, 0), Actor: "bob", Payload: projection.ReadMarkerMoved{Chat: "general", Message: idAt(11, 0)}}, 1, 3},
		{"a marker never moves back", projection.Event{ID: idAt(31, 0), Actor: "bob", Payload: projection.ReadMarkerMoved{Chat: "general", Message: idAt(4, 0)}}, 1, 3},
		{"alice deletes 14", projection.Event{ID: idAt(32, 0), Actor: "alice", Payload: projection.MessageDeleted{Message: idAt(14, 0)}}, 0, 3},
		{"bob deletes 12", projection.Event{ID: idAt(33, 0), Actor: "bob", Payload: projection.MessageDeleted{Message: idAt(12, 0)}}, 0, 2},
		{"alice reads all", projection.Event{ID: idAt(34, 0), Actor: "alice", Payload: projection.ReadMarkerMoved{Chat: "general", Message: idAt(14, 0)}}, 0, 0},
	}
	for _, tt := range tests {
		if tt.event.Payload != nil {
			mustApplyAll(t, s, tt.event)
		}
		if got := s.Unread("bob", "general"); got != tt.bob {
			t.Errorf("%s: bob's unread = %d, want %d", tt.name, got, tt.bob)
		}
		if got := s.Unread("alice", "general"); got != tt.alice {
			t.Errorf("%s: alice's unread = %d, want %d", tt.name, got, tt.alice)
		}
	}
	if got := s.Marker("bob", "general", ""); got != idAt(11, 0) {
		t.Errorf("bob's marker = %s, want %s", got, idAt(11, 0))
	}
}

func TestState_Message(t *testing.T) {
	s := seeded(t)
	mustApplyAll(t, s,
		projection.Event{ID: idAt(11, 0), Actor: "carol", Payload: projection.DirectMessageSent{Recipient: "bob", Content: "psst"}},
		projection.Event{ID: idAt(12, 0), Actor: "carol", Payload: projection.MessageEdited{Message: idAt(11, 0), Content: "PSST"}},
		projection.Event{ID: idAt(13, 0), Actor: "carol", Payload: projection.MessageEdited{Message: idAt(11, 0), Content: "psst!"}},
		projection.Event{ID: idAt(14, 0), Actor: "alice", Payload: projection.MessageDeleted{Message: idAt(4, 0)}},
		projection.Event{ID: idAt(15, 0), Actor: "alice", Payload: projection.MessageEdited{Message: idAt(4, 0), Content: "late"}}, // moot
	)
	tests := []struct {
		id   ulid.ULID
		want projection.Message
		ok   bool
	}{
		{idAt(4, 0), projection.Message{ID: idAt(4, 0), Sender: "alice", Chat: "general", Deleted: idAt(14, 0)}, true},
		{idAt(10, 0), projection.Message{ID: idAt(10, 0), Sender: "bob", Chat: "general"}, true},
		{idAt(11, 0), projection.Message{ID: idAt(11, 0), Sender: "carol", Peer: "bob", LastEdit: idAt(13, 0)}, true},
		{idAt(1, 0), projection.Message{}, false}, // a registration
		{idAt(99, 0), projection.Message{}, false},
	}
	for _, tt := range tests {
		got, ok := s.Message(tt.id)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Message(%s) = %+v, %v; want %+v, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
	m, _ := s.Message(idAt(11, 0))
	if !s.Readable(m, "bob") || s.Readable(m, "alice") {
		t.Error("a direct message must be readable by its two users only")
	}
	direct := s.DirectsOf("bob")
	if len(direct) != 1 || direct[0].With != "carol" || direct[0].Unread != 1 || direct[0].LastID != idAt(11, 0) {
		t.Errorf("bob's direct conversations = %+v, want carol with 1 unread", direct)
	}
	if got := len(s.Changes("bob")); got != 3 { // general, carol, markers
		t.Errorf("bob's change lists = %d, want 3", got)
	}
}

func TestErase(t *testing.T) {
	for _, e := range sampleEvents() {
		data := mustEncode(e)
		erased, err := projection.Erase(e.ID, data)
		if err != nil {
			t.Fatalf("Erase %s: %v", name(e), err)
		}
		got, err := projection.Decode(e.ID, erased)
		if err != nil {
			t.Fatalf("Decode erased %s: %v", name(e), err)
		}
		want := e
		switch p := e.Payload.(type) {
		case projection.ChatCreated:
			p.Content = ""
			want.Payload = p
		case projection.GroupMessagePosted:
			p.Content = ""
			want.Payload = p
		case projection.DirectMessageSent:
			p.Content = ""
			want.Payload = p
		case projection.MessageEdited:
			p.Content = ""
			want.Payload = p
		}
		if !equalEvents(got, want) {
			t.Errorf("Erase(%s) = %+v, want %+v", name(e), got, want)
		}
	}
}
