package jetlog_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

func TestLog_Sync_ReadsOtherNode(t *testing.T) {
	url := startServer(t)
	a := mustNode(t, url, jetlog.Options{})
	b := mustNode(t, url, jetlog.Options{})
	for i := range 5 {
		ids := mustAppend(t, a, fmt.Sprint("from a ", i))
		mustSync(t, b)
		got := b.Read(ulid.ULID{}, 100)
		if len(got) == 0 || got[len(got)-1].ID != ids[0] {
			t.Fatalf("round %d: after Sync, b read %d records, the last not a's %s", i, len(got), ids[0])
		}
	}
}

func TestLog_Get_NotFound(t *testing.T) {
	l := mustNode(t, startServer(t), jetlog.Options{})
	ids := mustAppend(t, l, "a")
	called := 0
	err := l.Get([]ulid.ULID{ids[0], ulid.Make()}, func(eventlog.Record) error { called++; return nil })
	if !errors.Is(err, eventlog.ErrNotFound) {
		t.Errorf("Get of an unknown id = %v, want ErrNotFound", err)
	}
	if called != 0 {
		t.Errorf("Get of an unknown id called fn %d times before failing", called)
	}
}

// publishRaw stores messages in the stream as another writer would, not
// through a Log: with the given Chateau-Id headers, or none where "".
func publishRaw(t *testing.T, js jetstream.JetStream, stream string, headers []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	for i, h := range headers {
		m := nats.NewMsg(stream + ".e")
		m.Data = fmt.Appendf(nil, "raw %d", i)
		if h != "" {
			m.Header.Set("Chateau-Id", h)
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpen_KeepsGivenIDs copies a log into a stream as a bbolt file is
// copied: each record proposes its own id. The ids come back exactly.
func TestOpen_KeepsGivenIDs(t *testing.T) {
	url := startServer(t)
	js := mustJetStream(t, url)
	mustNode(t, url, jetlog.Options{Stream: "copy"}).Close()
	t0 := time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)
	var want []string
	for i := range 20 {
		// Three per millisecond, as a busy bbolt log has them.
		id := ulid.MustNew(ulid.Timestamp(t0.Add(time.Duration(i/3)*time.Millisecond)), nil)
		id[15] = byte(i)
		want = append(want, id.String())
	}
	publishRaw(t, js, "copy", want)

	recs := readAll(t, mustNode(t, url, jetlog.Options{Stream: "copy"}))
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		if rec.ID.String() != want[i] {
			t.Errorf("record %d has id %s, want %s", i, rec.ID, want[i])
		}
	}
}

// TestOpen_IDsWithoutProposal reads messages whose proposal is missing,
// invalid or not greater than the id before: every node computes the
// same, strictly increasing ids.
func TestOpen_IDsWithoutProposal(t *testing.T) {
	url := startServer(t)
	js := mustJetStream(t, url)
	mustNode(t, url, jetlog.Options{Stream: "odd"}).Close()
	future := ulid.MustNew(ulid.Timestamp(time.Now().Add(time.Hour)), nil)
	past := ulid.MustNew(ulid.Timestamp(time.Now().Add(-time.Hour)), nil)
	publishRaw(t, js, "odd", []string{"", "not a ulid", future.String(), past.String(), "", future.String()})

	a := readAll(t, mustNode(t, url, jetlog.Options{Stream: "odd"}))
	b := readAll(t, mustNode(t, url, jetlog.Options{Stream: "odd"}))
	checkIncreasing(t, a)
	checkSame(t, "the two nodes' ids", b, a)
	if a[2].ID != future {
		t.Errorf("a greater proposal became %s, want itself %s", a[2].ID, future)
	}
	want := future
	want[15]++
	if a[3].ID != want {
		t.Errorf("a smaller proposal became %s, want the previous id plus one %s", a[3].ID, want)
	}
}

// TestLog_StreamGap deletes a message from a stream that allows it: the
// tail stops for good and says so.
func TestLog_StreamGap(t *testing.T) {
	url := startServer(t)
	js := mustJetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "gap", Subjects: []string{"gap.>"}, Storage: jetstream.FileStorage,
		AllowAtomicPublish: true, AllowDirect: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, js, "gap", []string{"", "", ""})
	if err := s.DeleteMsg(ctx, 2); err != nil {
		t.Fatal(err)
	}
	l := mustNode(t, url, jetlog.Options{Stream: "gap"})
	if err := l.Sync(ctx); !errors.Is(err, jetlog.ErrStreamGap) {
		t.Errorf("Sync over a gap = %v, want ErrStreamGap", err)
	}
	if _, err := l.Append([]byte("x")); !errors.Is(err, jetlog.ErrStreamGap) {
		t.Errorf("Append over a gap = %v, want ErrStreamGap", err)
	}
}

// TestLog_Tail_ConsumerDeleted deletes the tail's consumer under it, as
// an operator or the server's cleanup might: the tail makes a new one and
// goes on from where it was.
func TestLog_Tail_ConsumerDeleted(t *testing.T) {
	url := startServer(t)
	js := mustJetStream(t, url)
	l := mustNode(t, url, jetlog.Options{})
	before := mustAppend(t, l, "before")
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := js.Stream(ctx, "chateau")
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for name := range s.ConsumerNames(ctx).Name() {
		if err := s.DeleteConsumer(ctx, name); err != nil {
			t.Fatal(err)
		}
		deleted++
	}
	if deleted != 1 {
		t.Fatalf("deleted %d consumers, want the tail's one", deleted)
	}
	start := time.Now()
	after := mustAppend(t, l, "after")
	t.Logf("Append after the deletion took %v", time.Since(start).Round(time.Millisecond))
	want := []eventlog.Record{{ID: before[0], Data: []byte("before")}, {ID: after[0], Data: []byte("after")}}
	checkSame(t, "Read after the deletion", readAll(t, l), want)
}
