package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
)

// BenchmarkStartup measures how long `chateau serve` takes to be ready on a
// log of 1,000,000 events (10,000 users, 1,000 chats of 10, the rest group
// messages with a messageID, as clients send them), with the file in the
// page cache: from the process's start to its "listening" line, which it
// logs once the replay is done and /ws accepts connections.
//
//	go test -run XXX -bench Startup -benchtime 5x ./cmd/chateau
func BenchmarkStartup(b *testing.B) {
	const users, chats, total = 10_000, 1_000, 1_000_000
	data := filepath.Join(b.TempDir(), "million.db")
	writeMillion(b, data, users, chats, total)
	p := startServe(b, data) // warms the page cache
	_ = p.stop(syscall.SIGTERM)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		p := startServe(b, data)
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/start")
		b.StopTimer()
		if m := replayTook.FindStringSubmatch(p.log()); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				b.ReportMetric(float64(d.Milliseconds()), "ms/replay")
			}
		}
		_ = p.stop(syscall.SIGTERM)
		b.StartTimer()
	}
}

var replayTook = regexp.MustCompile(`msg="projections rebuilt".* took=(\S+)`)

// writeMillion writes the start-up benchmark's log to path.
func writeMillion(tb testing.TB, path string, users, chats, total int) {
	tb.Helper()
	l, _, err := eventlog.Open(path, eventlog.Options{UnsafeNoSync: true}) // a fixture: a crash just means redoing it
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	appendMillion(tb, users, chats, total, 10_000, func(batch [][]byte) error {
		_, err := l.Append(batch...)
		return err
	})
}

// appendMillion passes the start-up benchmarks' events, encoded, to
// appendBatch in batches of up to size, in log order: users registered,
// chats of 10 created, then group messages with a messageID, as clients
// send them, round-robin over the chats and their members, up to total
// events. appendBatch may keep the events' bytes but not the batch.
func appendMillion(tb testing.TB, users, chats, total, size int, appendBatch func(batch [][]byte) error) {
	tb.Helper()
	batch := make([][]byte, 0, size)
	add := func(e projection.Event) {
		d, err := projection.Encode(e)
		if err != nil {
			tb.Fatal(err)
		}
		if batch = append(batch, d); len(batch) == cap(batch) {
			if err := appendBatch(batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	user := func(i int) string { return fmt.Sprintf("user%05d", i%users) }
	for i := range users {
		add(projection.Event{Actor: user(i), Payload: projection.UserRegistered{Username: user(i)}})
	}
	for c := range chats {
		members := make([]string, 10)
		for j := range members {
			members[j] = user(c*10 + j)
		}
		add(projection.Event{Actor: members[0], Payload: projection.ChatCreated{Chat: fmt.Sprintf("chat%04d", c), Members: members, Content: "hello"}})
	}
	for i := range total - users - chats {
		c := i % chats
		add(projection.Event{Actor: user(c*10 + i%10), RequestID: fmt.Sprintf(`"m%d"`, i), Payload: projection.GroupMessagePosted{
			Chat: fmt.Sprintf("chat%04d", c), Content: "a message of about the length people write in a chat, 64 bytes"}})
	}
	if len(batch) > 0 {
		if err := appendBatch(batch); err != nil {
			tb.Fatal(err)
		}
	}
}
