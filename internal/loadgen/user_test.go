package loadgen

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// testRunner returns a runner of run "t" with chats of members users and
// no connections, whose users have sent lastSeq messages each.
func testRunner(chats, members int, lastSeq uint64) *runner {
	r := &runner{cfg: Config{Run: "t", Chats: chats, Members: members, Window: 4}, errs: newErrorCounts()}
	r.namePrefix = "bench-t-"
	for i := range chats * members {
		u := &user{
			name: fmt.Sprintf("bench-t-%d", i), chat: i / members, pos: i % members,
			window: make(chan struct{}, 4), inflight: make(map[uint64]time.Time), recv: make([][]uint8, members),
		}
		u.lastSeq.Store(lastSeq)
		r.users = append(r.users, u)
	}
	for c := range chats {
		r.chatNames = append(r.chatNames, fmt.Sprintf("bench-t-%d", c))
	}
	return r
}

// delivery returns the frame delivering message seq of sender to chat.
func delivery(chat, sender string, seq uint64, id string) string {
	content := fmt.Sprintf("%d %d xxxxxxxx", time.Now().UnixNano(), seq)
	return fmt.Sprintf(`{"type":"GroupMessageRecv","status":200,"chatname":%q,"sender":%q,"content":%q,"id":%q,"time":"t"}`,
		chat, sender, content, id)
}

// TestReceive feeds frames to user 0 of chat 0 (users 0-2; chat 1 is users
// 3-5) and checks what it counts.
func TestReceive(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		frames               []string
		unique, dup          int64 // first and further receipts of a message
		unexpected, outOfOrd int64
		errors               map[string]int64
	}{
		{name: "one", frames: []string{delivery("bench-t-0", "bench-t-1", 1, "A")}, unique: 1},
		{name: "two senders", frames: []string{delivery("bench-t-0", "bench-t-1", 1, "A"), delivery("bench-t-0", "bench-t-2", 1, "B")}, unique: 2},
		{name: "duplicate", frames: []string{delivery("bench-t-0", "bench-t-1", 1, "A"), delivery("bench-t-0", "bench-t-1", 1, "B")}, unique: 1, dup: 1},
		{name: "out of order", frames: []string{delivery("bench-t-0", "bench-t-1", 1, "B"), delivery("bench-t-0", "bench-t-1", 2, "A")}, unique: 2, outOfOrd: 1},
		{name: "same id twice", frames: []string{delivery("bench-t-0", "bench-t-1", 1, "A"), delivery("bench-t-0", "bench-t-1", 2, "A")}, unique: 2, outOfOrd: 1},
		{name: "escaped frame", frames: []string{strings.Replace(delivery("bench-t-0", "bench-t-1", 1, "A"), `"sender":"bench-t-1"`, `"sender":"bench-t-\u0031"`, 1)}, unique: 1},
		{name: "from itself", frames: []string{delivery("bench-t-0", "bench-t-0", 1, "A")}, unexpected: 1},
		{name: "from another chat", frames: []string{delivery("bench-t-0", "bench-t-3", 1, "A")}, unexpected: 1},
		{name: "labelled another chat", frames: []string{delivery("bench-t-1", "bench-t-1", 1, "A")}, unexpected: 1},
		{name: "unknown sender", frames: []string{delivery("bench-t-0", "someone", 1, "A")}, unexpected: 1},
		{name: "index out of range", frames: []string{delivery("bench-t-0", "bench-t-6", 1, "A")}, unexpected: 1},
		{name: "index with a leading zero", frames: []string{delivery("bench-t-0", "bench-t-01", 1, "A")}, unexpected: 1},
		{name: "never sent", frames: []string{delivery("bench-t-0", "bench-t-1", 11, "A")}, unexpected: 1},
		{name: "bad content", frames: []string{strings.Replace(delivery("bench-t-0", "bench-t-1", 1, "A"), `"content":"`, `"content":"x`, 1)}, unexpected: 1},
		{name: "chat created", frames: []string{`{"type":"GroupMessageRecv","status":201,"chatname":"bench-t-0","members":["bench-t-0"],"sender":"bench-t-1","content":"bench","id":"A"}`}},
		{name: "not JSON", frames: []string{`{"type":`}, errors: map[string]int64{"invalid frame": 1}},
		{name: "other frame", frames: []string{`{"type":"SessionReplaced","status":409}`}, errors: map[string]int64{"unexpected SessionReplaced": 1}},
		{name: "unknown answer", frames: []string{`{"type":"GroupMessageResponse","status":200,"messageID":3}`}, errors: map[string]int64{"unknown answer": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRunner(2, 3, 10)
			u := r.users[0]
			for _, f := range tc.frames {
				u.handle(r, []byte(f))
			}
			deliveries, unique := r.delivered()
			var counted int64
			for _, counts := range u.recv {
				for _, n := range counts {
					counted += int64(n)
				}
			}
			if unique != tc.unique || counted != tc.unique+tc.dup || u.unexpected != tc.unexpected || u.outOfOrder != tc.outOfOrd {
				t.Errorf("unique %d, received %d, unexpected %d, out of order %d; want %d, %d, %d, %d",
					unique, counted, u.unexpected, u.outOfOrder, tc.unique, tc.unique+tc.dup, tc.unexpected, tc.outOfOrd)
			}
			if want := tc.unique + tc.dup + tc.unexpected; deliveries != want {
				t.Errorf("deliveries %d, want %d", deliveries, want)
			}
			if got := u.delLat.n; got != int(tc.unique+tc.dup) {
				t.Errorf("%d delivery latencies, want %d", got, tc.unique+tc.dup)
			}
			for kind, n := range r.errs.snapshot() {
				if n != tc.errors[kind] {
					t.Errorf("errors %v, want %v", r.errs.snapshot(), tc.errors)
				}
			}
		})
	}
}

// TestAnswer checks that answers release the window and count by status.
func TestAnswer(t *testing.T) {
	r := testRunner(1, 2, 3)
	u := r.users[0]
	sent := time.Now().Add(-time.Millisecond)
	for seq := uint64(1); seq <= 3; seq++ {
		u.window <- struct{}{}
		u.inflight[seq] = sent
		r.inflight.Add(1)
	}
	u.handle(r, []byte(`{"type":"GroupMessageResponse","status":200,"messageID":1,"chatname":"bench-t-0","id":"A","time":"t"}`))
	u.handle(r, []byte(`{"type":"ErrorResponse","status":429,"messageID":2,"reason":"too many requests","request":"GroupMessageRequest"}`))
	u.handle(r, []byte(`{"type":"GroupMessageResponse","status":200,"messageID":1}`))
	switch {
	case len(u.window) != 1 || r.inflight.Load() != 1 || len(u.inflight) != 1:
		t.Errorf("window %d, in flight %d and %d; want 1", len(u.window), r.inflight.Load(), len(u.inflight))
	case r.accepted.Load() != 1 || r.expected.Load() != 1 || len(u.acked) != 1 || u.acked[0] != 1:
		t.Errorf("accepted %d, expected %d, acked %v", r.accepted.Load(), r.expected.Load(), u.acked)
	case u.ackLat.n != 1 || u.ackLat.chunks[0][0] < time.Millisecond:
		t.Errorf("ack latencies %v", u.ackLat.chunks)
	}
	if errs := r.errs.snapshot(); errs["429"] != 1 || errs["unknown answer"] != 1 || len(errs) != 2 {
		t.Errorf("errors %v", errs)
	}
}

func TestUserNamed(t *testing.T) {
	r := testRunner(2, 3, 0)
	for _, tc := range []struct {
		name string
		want int // index, or -1 for none
	}{
		{"bench-t-0", 0},
		{"bench-t-5", 5},
		{"bench-t-6", -1},
		{"bench-t-05", -1},
		{"bench-t-", -1},
		{"bench-t-x", -1},
		{"bench-u-1", -1},
		{"bench-t", -1},
		{"", -1},
		{"bench-t-99999999999999999999", -1},
	} {
		got := r.userNamed([]byte(tc.name))
		if (got == nil) != (tc.want < 0) || got != nil && got != r.users[tc.want] {
			t.Errorf("%q: got %v, want index %d", tc.name, got, tc.want)
		}
	}
}

// TestReadAll checks that readAll reads whole messages into the buffer it
// is given, and passes on errors.
func TestReadAll(t *testing.T) {
	msg := strings.Repeat("0123456789", 100)
	buf := make([]byte, 0, 16)
	for _, tc := range []struct {
		name string
		r    io.Reader
		want string
		err  error
	}{
		{"whole", strings.NewReader(msg), msg, nil},
		{"byte by byte", iotest.OneByteReader(strings.NewReader(msg)), msg, nil},
		{"data with EOF", iotest.DataErrReader(strings.NewReader(msg)), msg, nil},
		{"empty", strings.NewReader(""), "", nil},
		{"error", io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(io.ErrUnexpectedEOF)), "ab", io.ErrUnexpectedEOF},
	} {
		got, err := readAll(tc.r, buf[:0])
		if string(got) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: got %d bytes, %v; want %d, %v", tc.name, len(got), err, len(tc.want), tc.err)
		}
		buf = got
	}
}
