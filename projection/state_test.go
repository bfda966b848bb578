package projection_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// snapshot is what must not change when Apply fails.
type snapshot struct {
	users, chats, events int
	last                 ulid.ULID
	general              projection.Chat
}

func snap(s *projection.State) snapshot {
	var sn snapshot
	sn.users, sn.chats, sn.events = s.Counts()
	sn.last = s.Last()
	sn.general, _ = s.Chat("general")
	return sn
}

func (a snapshot) equal(b snapshot) bool {
	return a.users == b.users && a.chats == b.chats && a.events == b.events && a.last == b.last &&
		a.general.Name == b.general.Name && a.general.Creator == b.general.Creator &&
		a.general.LastID == b.general.LastID && slices.Equal(a.general.Members, b.general.Members)
}

// seeded returns a state with alice (protected), bob and carol, the chat
// general of alice and bob, and a message in it; the last id is idAt(10, 0).
func seeded(t *testing.T) *projection.State {
	t.Helper()
	s := projection.NewState()
	events := []projection.Event{
		{ID: idAt(1, 0), Actor: "alice", Payload: projection.UserRegistered{Username: "alice", PasswordHash: hashBytes}},
		{ID: idAt(2, 0), Actor: "bob", Payload: projection.UserRegistered{Username: "bob"}},
		{ID: idAt(3, 0), Actor: "carol", Payload: projection.UserRegistered{Username: "carol"}},
		{ID: idAt(4, 0), Actor: "alice", Payload: projection.ChatCreated{Chat: "general", Members: []string{"alice", "bob"}, Content: "hi"}},
		{ID: idAt(10, 0), Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "general", Content: "yo"}},
	}
	for _, e := range events {
		if err := s.Apply(e); err != nil {
			t.Fatalf("apply %s: %v", e.Payload.Type(), err)
		}
	}
	return s
}

func TestState_Apply(t *testing.T) {
	s := projection.NewState()
	if u, c, n := s.Counts(); u != 0 || c != 0 || n != 0 || s.Last() != (ulid.ULID{}) {
		t.Fatalf("new state: counts %d %d %d, last %s", u, c, n, s.Last())
	}
	s = seeded(t)
	if u, c, n := s.Counts(); u != 3 || c != 1 || n != 5 {
		t.Errorf("Counts = %d users, %d chats, %d events; want 3, 1, 5", u, c, n)
	}
	if s.Last() != idAt(10, 0) {
		t.Errorf("Last = %s, want %s", s.Last(), idAt(10, 0))
	}

	alice, ok := s.User("alice")
	if !ok || alice.Name != "alice" || !bytes.Equal(alice.PasswordHash, hashBytes) || !alice.Protected() {
		t.Errorf("User(alice) = %+v, %v; want alice with her hash", alice, ok)
	}
	if bob, ok := s.User("bob"); !ok || bob.Protected() {
		t.Errorf("User(bob) = %+v, %v; want unprotected bob", bob, ok)
	}
	if _, ok := s.User("dave"); ok {
		t.Error("User(dave) found a user never registered")
	}
	if _, ok := s.User("Alice"); ok {
		t.Error("User(Alice) found alice: names are case-sensitive")
	}

	before, ok := s.Chat("general")
	if !ok || before.Name != "general" || before.Creator != "alice" || before.LastID != idAt(10, 0) ||
		!slices.Equal(before.Members, []string{"alice", "bob"}) {
		t.Errorf("Chat(general) = %+v, %v", before, ok)
	}
	for user, want := range map[string]bool{"alice": true, "bob": true, "carol": false, "": false} {
		if got := before.HasMember(user); got != want {
			t.Errorf("HasMember(%q) = %v, want %v", user, got, want)
		}
	}
	if _, ok := s.Chat("random"); ok {
		t.Error("Chat(random) found a chat never created")
	}

	// A message moves the chat's LastID; a copy taken before keeps its own.
	if err := s.Apply(projection.Event{ID: idAt(11, 0), Actor: "alice", Payload: projection.GroupMessagePosted{Chat: "general", Content: "x"}}); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.Chat("general"); after.LastID != idAt(11, 0) {
		t.Errorf("LastID after a message = %s, want %s", after.LastID, idAt(11, 0))
	}
	if before.LastID != idAt(10, 0) {
		t.Errorf("a copy of the chat changed with a later Apply: LastID %s", before.LastID)
	}

	// A direct message counts as an event and changes nothing else.
	if err := s.Apply(projection.Event{ID: idAt(12, 0), Actor: "bob", Payload: projection.DirectMessageSent{Recipient: "carol", Content: "x"}}); err != nil {
		t.Fatal(err)
	}
	if u, c, n := s.Counts(); u != 3 || c != 1 || n != 7 || s.Last() != idAt(12, 0) {
		t.Errorf("after a direct message: counts %d %d %d, last %s", u, c, n, s.Last())
	}
	if after, _ := s.Chat("general"); after.LastID != idAt(11, 0) {
		t.Errorf("a direct message moved the chat's LastID to %s", after.LastID)
	}
}

func TestState_Apply_Errors(t *testing.T) {
	type unknown struct{ projection.DirectMessageSent }
	next := idAt(20, 0)
	tests := []struct {
		name string
		e    projection.Event
		want string // in the error
	}{
		{"duplicate user", projection.Event{ID: next, Actor: "bob", Payload: projection.UserRegistered{Username: "bob"}}, "already registered"},
		{"duplicate protected user", projection.Event{ID: next, Actor: "alice", Payload: projection.UserRegistered{Username: "alice"}}, "already registered"},
		{"duplicate chat", projection.Event{ID: next, Actor: "carol", Payload: projection.ChatCreated{Chat: "general", Members: []string{"carol"}}}, "already exists"},
		{"message to unknown chat", projection.Event{ID: next, Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "random"}}, "no chat"},
		{"message to chat of another case", projection.Event{ID: next, Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "General"}}, "no chat"},
		{"same id as the last", projection.Event{ID: idAt(10, 0), Actor: "dave", Payload: projection.UserRegistered{Username: "dave"}}, "not after"},
		{"earlier id", projection.Event{ID: idAt(9, 99), Actor: "dave", Payload: projection.UserRegistered{Username: "dave"}}, "not after"},
		{"earlier id, same millisecond", projection.Event{ID: idAt(10, 0), Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "general"}}, "not after"},
		{"zero id", projection.Event{Actor: "dave", Payload: projection.UserRegistered{Username: "dave"}}, "not after"},
		{"no payload", projection.Event{ID: next, Actor: "dave"}, "unknown payload"},
		{"unknown payload", projection.Event{ID: next, Actor: "dave", Payload: unknown{}}, "unknown payload"},
		{"pointer payload", projection.Event{ID: next, Actor: "dave", Payload: &projection.UserRegistered{Username: "dave"}}, "unknown payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := seeded(t)
			before := snap(s)
			err := s.Apply(tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Apply = %v, want an error saying %q", err, tt.want)
			}
			if after := snap(s); !after.equal(before) {
				t.Errorf("a failed Apply changed the state:\n got %+v\nwant %+v", after, before)
			}
			if _, ok := s.User("dave"); ok {
				t.Error("a failed Apply registered dave")
			}
			if alice, _ := s.User("alice"); !bytes.Equal(alice.PasswordHash, hashBytes) {
				t.Error("a failed Apply changed alice's hash")
			}
			// The state still accepts the next event.
			if err := s.Apply(projection.Event{ID: idAt(30, 0), Actor: "dave", Payload: projection.UserRegistered{Username: "dave"}}); err != nil {
				t.Errorf("Apply after a failed Apply: %v", err)
			}
		})
	}
}

func TestState_Receipt(t *testing.T) {
	s := seeded(t)
	ms := uint64(100)
	apply := func(e projection.Event) {
		t.Helper()
		ms++
		e.ID = idAt(ms, 0)
		if err := s.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	apply(projection.Event{Actor: "bob", RequestID: "1", Payload: projection.GroupMessagePosted{Chat: "general", Content: "secret"}})
	apply(projection.Event{Actor: "bob", RequestID: `"dm"`, Payload: projection.DirectMessageSent{Recipient: "carol", Content: "psst"}})
	apply(projection.Event{Actor: "dave", RequestID: "1", Payload: projection.UserRegistered{Username: "dave"}})

	r, ok := s.Receipt("bob", "1")
	if !ok || r != idAt(101, 0) {
		t.Errorf("Receipt(bob, 1) = %v, %v; want %v", r, ok, idAt(101, 0))
	}
	if r, ok := s.Receipt("bob", `"dm"`); !ok || r != idAt(102, 0) {
		t.Errorf("Receipt(bob, dm) = %+v, %v", r, ok)
	}
	for _, q := range [][2]string{{"alice", "1"}, {"bob", "2"}, {"dave", "1"}, {"bob", ""}} {
		if _, ok := s.Receipt(q[0], q[1]); ok {
			t.Errorf("Receipt(%q, %q) found a receipt", q[0], q[1])
		}
	}

	// Only the most recent MaxReceipts of a user are kept; reusing an id
	// keeps the newer receipt.
	for i := 2; i <= projection.MaxReceipts+1; i++ {
		apply(projection.Event{Actor: "bob", RequestID: fmt.Sprint(i), Payload: projection.DirectMessageSent{Recipient: "carol"}})
	}
	if _, ok := s.Receipt("bob", "1"); ok {
		t.Error("the oldest receipt was not forgotten")
	}
	if _, ok := s.Receipt("bob", fmt.Sprint(projection.MaxReceipts+1)); !ok {
		t.Error("the newest receipt was forgotten")
	}
	apply(projection.Event{Actor: "bob", RequestID: "300", Payload: projection.DirectMessageSent{Recipient: "carol"}})
	reused := ms
	apply(projection.Event{Actor: "bob", RequestID: "300", Payload: projection.DirectMessageSent{Recipient: "alice"}})
	for i := 0; i < projection.MaxReceipts-1; i++ {
		apply(projection.Event{Actor: "bob", RequestID: fmt.Sprint(1000 + i), Payload: projection.DirectMessageSent{Recipient: "carol"}})
	}
	// The first "300" has been evicted, the second has not.
	if r, ok := s.Receipt("bob", "300"); !ok || r != idAt(reused+1, 0) {
		t.Errorf("Receipt(bob, 300) = %v, %v; want the second use, %s", r, ok, idAt(reused+1, 0))
	}
	// While both are kept, the newer one counts.
	apply(projection.Event{Actor: "bob", RequestID: "400", Payload: projection.DirectMessageSent{Recipient: "carol"}})
	apply(projection.Event{Actor: "bob", RequestID: "400", Payload: projection.DirectMessageSent{Recipient: "alice"}})
	if r, ok := s.Receipt("bob", "400"); !ok || r != idAt(ms, 0) {
		t.Errorf("Receipt(bob, 400) = %v, %v; want the newer, %s", r, ok, idAt(ms, 0))
	}
}

// TestRequestHash checks that RequestHash is 64-bit FNV-1a, with the
// published test vectors, and the same for a string and its bytes. The
// receipts are in memory only, but ApplyEncoded (bytes) and Receipt
// (string) must agree.
func TestRequestHash(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xcbf29ce484222325},
		{"a", 0xaf63dc4c8601ec8c},
		{"foobar", 0x85944171f73967e8},
	}
	for _, tt := range tests {
		if got := projection.RequestHash(tt.in); got != tt.want {
			t.Errorf("RequestHash(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if got := projection.RequestHash([]byte(tt.in)); got != tt.want {
			t.Errorf("RequestHash([]byte(%q)) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

// BenchmarkState_Receipt looks up a messageID that is new, as most are,
// for a user with a full ring of receipts: what the server does for each
// message that carries one.
func BenchmarkState_Receipt(b *testing.B) {
	s := projection.NewState()
	if err := s.Apply(projection.Event{ID: idAt(1, 0), Actor: "bob", Payload: projection.UserRegistered{Username: "bob"}}); err != nil {
		b.Fatal(err)
	}
	for i := range projection.MaxReceipts {
		e := projection.Event{ID: idAt(2+uint64(i), 0), Actor: "bob", RequestID: fmt.Sprintf(`"m%d"`, i),
			Payload: projection.DirectMessageSent{Recipient: "carol"}}
		if err := s.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Receipt("bob", `"7f3c2a9e-4b1d-4c8e-9a2f-1e5d6c7b8a90"`); ok {
			b.Fatal("found a receipt for a new messageID")
		}
	}
}

// BenchmarkRequestHash hashes a messageID as Receipt does (a string) and
// as ApplyEncoded does (bytes of the stored event).
func BenchmarkRequestHash(b *testing.B) {
	const id = `"7f3c2a9e-4b1d-4c8e-9a2f-1e5d6c7b8a90"`
	var sink uint64
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink += projection.RequestHash(id)
		}
	})
	bs := []byte(id)
	b.Run("bytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink += projection.RequestHash(bs)
		}
	})
	_ = sink
}

// rebuildLog is the encoded form of a log of n events: users
// registrations, then chats creations of 8 members, then group messages.
type rebuildLog struct {
	ids  []ulid.ULID
	data []byte
	ends []int // data[ends[i-1]:ends[i]] is event i
}

func makeRebuildLog(tb testing.TB, n, users, chats int) *rebuildLog {
	tb.Helper()
	l := &rebuildLog{ids: make([]ulid.ULID, 0, n), ends: make([]int, 0, n)}
	user := func(i int) string { return fmt.Sprintf("user%05d", i%users) }
	content := strings.Repeat("lorem ipsu", 8)
	for i := range n {
		var e projection.Event
		switch {
		case i < users:
			e = projection.Event{Actor: user(i), Payload: projection.UserRegistered{Username: user(i)}}
		case i < users+chats:
			c := i - users
			members := make([]string, 8)
			for j := range members {
				members[j] = user(c*8 + j)
			}
			slices.Sort(members)
			e = projection.Event{Actor: members[0], RequestID: fmt.Sprint(i), Payload: projection.ChatCreated{
				Chat: fmt.Sprintf("chat %04d", c), Members: members, Content: content,
			}}
		default:
			c := i % chats
			e = projection.Event{Actor: user(c*8 + i%8), RequestID: fmt.Sprint(i), Payload: projection.GroupMessagePosted{
				Chat: fmt.Sprintf("chat %04d", c), Content: content,
			}}
		}
		e.ID = idAt(uint64(i), 0)
		data, err := projection.Encode(e)
		if err != nil {
			tb.Fatal(err)
		}
		l.ids = append(l.ids, e.ID)
		l.data = append(l.data, data...)
		l.ends = append(l.ends, len(l.data))
	}
	return l
}

// rebuild applies every event of l to a new state as a server start does,
// with ApplyEncoded.
func (l *rebuildLog) rebuild() (*projection.State, error) {
	s := projection.NewState()
	start := 0
	for i, id := range l.ids {
		if err := s.ApplyEncoded(id, l.data[start:l.ends[i]]); err != nil {
			return nil, err
		}
		start = l.ends[i]
	}
	return s, nil
}

// TestState_ApplyEncoded checks that the fast path builds the same state as
// Decode and Apply, receipts and indexes included, and refuses what Decode
// refuses.
func TestState_ApplyEncoded(t *testing.T) {
	l := makeRebuildLog(t, 3000, 50, 5)
	fast, err := l.rebuild()
	if err != nil {
		t.Fatal(err)
	}
	slow := projection.NewState()
	start := 0
	for i, id := range l.ids {
		e, err := projection.Decode(id, l.data[start:l.ends[i]])
		if err != nil {
			t.Fatal(err)
		}
		if err := slow.Apply(e); err != nil {
			t.Fatal(err)
		}
		start = l.ends[i]
	}
	if !snap(fast).equal(snap(slow)) {
		t.Fatalf("states differ: %+v, %+v", snap(fast), snap(slow))
	}
	for _, chat := range []string{"chat 0000", "chat 0004"} {
		if !slices.Equal(fast.ChatLog(chat), slow.ChatLog(chat)) {
			t.Fatalf("%s: indexes differ", chat)
		}
	}
	last, err := projection.Decode(l.ids[len(l.ids)-1], l.data[l.ends[len(l.ends)-2]:])
	if err != nil {
		t.Fatal(err)
	}
	got, ok := fast.Receipt(last.Actor, last.RequestID)
	if want, _ := slow.Receipt(last.Actor, last.RequestID); !ok || got != want || got != last.ID {
		t.Fatalf("receipts differ: %v, %v, want %v", got, want, last.ID)
	}

	dm := mustEncode(projection.Event{Actor: "user00001", Payload: projection.DirectMessageSent{Recipient: "user00002", Content: "x", Random: true}})
	if err := fast.ApplyEncoded(idAt(1<<40, 0), dm); err != nil {
		t.Fatal(err)
	}
	if got := fast.DirectLog("user00002", "user00001"); len(got) != 1 {
		t.Fatalf("direct log %v", got)
	}
	for _, bad := range [][]byte{dm[:len(dm)-1], append(slices.Clone(dm), 0), {1, 3}, {1, 4, 0x80}} {
		before := snap(fast)
		if err := fast.ApplyEncoded(idAt(1<<41, 0), bad); !errors.Is(err, projection.ErrBadEvent) {
			t.Errorf("ApplyEncoded(%x) = %v, want ErrBadEvent", bad, err)
		}
		if !snap(fast).equal(before) {
			t.Errorf("ApplyEncoded(%x) changed the state", bad)
		}
	}
}

func TestState_Rebuild(t *testing.T) {
	l := makeRebuildLog(t, 5000, 100, 10)
	s, err := l.rebuild()
	if err != nil {
		t.Fatal(err)
	}
	if u, c, n := s.Counts(); u != 100 || c != 10 || n != 5000 {
		t.Errorf("Counts = %d, %d, %d; want 100, 10, 5000", u, c, n)
	}
	if s.Last() != l.ids[len(l.ids)-1] {
		t.Errorf("Last = %s, want %s", s.Last(), l.ids[len(l.ids)-1])
	}
}

// BenchmarkState_Rebuild replays a log of 1,000,000 events (10,000
// registrations, 1,000 chats, the rest group messages) from their stored
// form: the work of a server start.
func BenchmarkState_Rebuild(b *testing.B) {
	const n, users, chats = 1_000_000, 10_000, 1_000
	l := makeRebuildLog(b, n, users, chats)
	b.SetBytes(int64(len(l.data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := l.rebuild()
		if err != nil {
			b.Fatal(err)
		}
		if u, c, e := s.Counts(); u != users || c != chats || e != n {
			b.Fatalf("Counts = %d, %d, %d", u, c, e)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
