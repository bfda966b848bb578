package wsapi_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// writeBigLog appends total events to l: users registrations, chats chats
// of 10 members, bigChat messages to chat "big", the rest spread over the
// other chats. It returns the ids of the big chat's messages.
func writeBigLog(tb testing.TB, l *eventlog.Log, users, chats, bigChat, total int) []ulid.ULID {
	tb.Helper()
	var batch [][]byte
	var big []ulid.ULID
	isBig := make([]bool, 0, 5000)
	add := func(e projection.Event, inBig bool) {
		b, err := projection.Encode(e)
		if err != nil {
			tb.Fatal(err)
		}
		batch = append(batch, b)
		isBig = append(isBig, inBig)
		if len(batch) == cap(isBig) {
			flushBig(tb, l, &batch, &isBig, &big)
		}
	}
	user := func(i int) string { return fmt.Sprintf("user%05d", i) }
	for i := range users {
		add(projection.Event{Actor: user(i), Payload: projection.UserRegistered{Username: user(i)}}, false)
	}
	chatName := func(i int) string {
		if i == 0 {
			return "big"
		}
		return fmt.Sprintf("chat%04d", i)
	}
	for i := range chats {
		members := make([]string, 10)
		for j := range members {
			members[j] = user((i*10 + j) % users)
		}
		add(projection.Event{Actor: members[0], Payload: projection.ChatCreated{Chat: chatName(i), Members: members, Content: "hello"}}, i == 0)
	}
	rest := total - users - chats
	for i := range rest {
		chat := 0
		if i%(rest/bigChat) != 0 {
			chat = 1 + i%(chats-1)
		}
		add(projection.Event{Actor: user((chat*10 + i%10) % users), RequestID: fmt.Sprintf(`"m%d"`, i), Payload: projection.GroupMessagePosted{
			Chat: chatName(chat), Content: fmt.Sprintf("message %d, long enough to look like what people write", i)}}, chat == 0)
	}
	flushBig(tb, l, &batch, &isBig, &big)
	return big
}

func flushBig(tb testing.TB, l *eventlog.Log, batch *[][]byte, isBig *[]bool, big *[]ulid.ULID) {
	ids, err := l.Append(*batch...)
	if err != nil {
		tb.Fatal(err)
	}
	for i, id := range ids {
		if (*isBig)[i] {
			*big = append(*big, id)
		}
	}
	*batch, *isBig = (*batch)[:0], (*isBig)[:0]
}

// BenchmarkServer_History measures a page of 50 from the middle of a
// 100,000-message chat in a log of 1,000,000 events, over a real socket:
//
//	go test -run XXX -bench Server_History -benchtime 2000x ./wsapi
func BenchmarkServer_History(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.db")
	l := mustReopenLog(b, path)
	big := writeBigLog(b, l, 10_000, 1_000, 100_000, 1_000_000)
	ts := startServer(b, l)
	c := register(b, ts, "user00000") // a member of "big"
	middle := big[len(big)/2].String()
	b.ResetTimer()
	for range b.N {
		m := c.roundTrip(msg{"type": "HistoryRequest", "chatname": "big", "before": middle, "limit": 50})
		if n := len(m["messages"].([]any)); n != 50 {
			b.Fatalf("page of %d", n)
		}
	}
}

// BenchmarkRebuild measures the start-up replay of a log of 1,000,000
// events from a real bbolt file in the page cache:
//
//	go test -run XXX -bench Rebuild -benchtime 3x ./wsapi
func BenchmarkRebuild(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.db")
	l := mustReopenLog(b, path)
	writeBigLog(b, l, 10_000, 1_000, 100_000, 1_000_000)
	if _, err := chat.Rebuild(l, nil); err != nil { // warm the page cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := chat.Rebuild(l, nil); err != nil {
			b.Fatal(err)
		}
	}
}
