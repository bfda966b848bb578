package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/projection"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// keptContent is content that no deletion touches.
const keptContent = "kept-content-5e0a"

// deletedLog is a log in which messages were deleted: a data file, which
// erased their content when it stored the deletions, and the records as
// they were published, which a stream keeps.
type deletedLog struct {
	data   string            // the data file
	stored []eventlog.Record // every record as first stored, content included
	erased []ulid.ULID       // the records whose content the file erased
}

// mustWriteDeletedLog writes the sample events, then: bob posts to team
// and edits it, ann writes to carl, carl answers, all but carl's answer
// holding deletedMarker; bob and ann delete theirs (the file erases them
// as the server does, in the deletion's transaction); carl edits his
// answer.
func mustWriteDeletedLog(t *testing.T) deletedLog {
	t.Helper()
	d := deletedLog{data: filepath.Join(t.TempDir(), "chateau.db")}
	l, _, err := eventlog.Open(d.data, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	add := func(e projection.Event, erase ...ulid.ULID) ulid.ULID {
		t.Helper()
		data, err := projection.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		var rewrites []eventlog.Rewrite
		for _, id := range erase {
			rewrites = append(rewrites, eventlog.Rewrite{ID: id, Edit: func(old []byte) ([]byte, error) {
				return projection.Erase(id, old)
			}})
		}
		ids, err := l.AppendRewriting(rewrites, data)
		if err != nil {
			t.Fatal(err)
		}
		d.stored = append(d.stored, eventlog.Record{ID: ids[0], Data: data})
		d.erased = append(d.erased, erase...)
		return ids[0]
	}
	for _, e := range sampleEvents() {
		add(e)
	}
	oops := add(projection.Event{Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "team", Content: "oops " + deletedMarker}})
	edit := add(projection.Event{Actor: "bob", Payload: projection.MessageEdited{Message: oops, Content: "still " + deletedMarker}})
	psst := add(projection.Event{Actor: "ann", Payload: projection.DirectMessageSent{Recipient: "carl", Content: "psst " + deletedMarker}})
	ok := add(projection.Event{Actor: "carl", Payload: projection.DirectMessageSent{Recipient: "ann", Content: "ok"}})
	add(projection.Event{Actor: "bob", Payload: projection.MessageDeleted{Message: oops}}, oops, edit)
	add(projection.Event{Actor: "ann", Payload: projection.MessageDeleted{Message: psst}}, psst)
	add(projection.Event{Actor: "carl", Payload: projection.MessageEdited{Message: ok, Content: keptContent}})
	return d
}

// mustStreamOf imports d's records, as first stored, into the stream
// "chateau" on a new NATS server, checks that the stream holds the
// deleted content, and returns the server's URL.
func mustStreamOf(t *testing.T, d deletedLog) string {
	t.Helper()
	url := natstest.Start(t).URL()
	if err := mustStreamLog(t, url).Import(d.stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(streamBytes(t, url), []byte(deletedMarker)) {
		t.Fatal("the stream does not hold the deleted content: the test proves nothing")
	}
	return url
}

// streamBytes returns the data of every record of the stream "chateau" at
// url, as the stream holds them, one after another.
func streamBytes(t *testing.T, url string) []byte {
	t.Helper()
	l := mustStreamLog(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), streamTestWait)
	defer cancel()
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var all []byte
	if err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		all = append(all, rec.Data...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

// TestRedaction_Erase: after collecting a log's records, erase empties
// the content of the deleted messages and of their edits, exactly as the
// data file's deletions did, and returns every other record unchanged.
func TestRedaction_Erase(t *testing.T) {
	d := mustWriteDeletedLog(t)
	if len(d.erased) != 3 {
		t.Fatalf("the file erased %d records, want 3", len(d.erased))
	}
	var r redaction
	for _, rec := range d.stored {
		if err := r.collect(rec); err != nil {
			t.Fatal(err)
		}
	}
	f, _, err := eventlog.Open(d.data, eventlog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	i := 0
	err = f.Scan(ulid.ULID{}, func(want eventlog.Record) error {
		got, err := r.erase(d.stored[i])
		if err != nil {
			return err
		}
		if got.ID != want.ID || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("record %d (%s): erased to %q, the file holds %q", i, d.stored[i].ID, got.Data, want.Data)
		}
		i++
		return nil
	})
	if err != nil || i != len(d.stored) {
		t.Fatalf("compared %d of %d records: %v", i, len(d.stored), err)
	}
}

// TestDump_Stream_ErasesDeleted: events dump of a stream that holds
// deleted content prints what the dump of the data file that erased it
// prints, byte for byte, ids included, in both formats and through the
// filters, with no trace of the content.
func TestDump_Stream_ErasesDeleted(t *testing.T) {
	d := mustWriteDeletedLog(t)
	url := mustStreamOf(t, d)
	for _, args := range [][]string{
		nil,
		{"-format", "text"},
		{"-chat", "team"},
		{"-user", "carl", "-format", "text"},
		{"-type", "MessageEdited"},
		{"-since", d.stored[5].ID.String()},
		{"-limit", "8"},
	} {
		want, _, err := runMain(t, append([]string{"events", "dump", "-data", d.data}, args...)...)
		if err != nil {
			t.Fatalf("dump of the file %v: %v", args, err)
		}
		got, _, err := runMain(t, append([]string{"events", "dump", "-nats", url}, args...)...)
		if err != nil || got != want {
			t.Errorf("dump of the stream %v: %v\n%s\nwant, as of the file:\n%s", args, err, got, want)
		}
		if strings.Contains(got, deletedMarker) {
			t.Errorf("dump of the stream %v shows deleted content:\n%s", args, got)
		}
	}
	all := dumpOfStream(t, url)
	for _, s := range []string{keptContent, "hello team", d.stored[len(d.stored)-1].ID.String()} {
		if !strings.Contains(all, s) {
			t.Errorf("dump of the stream lacks %q:\n%s", s, all)
		}
	}
}

// TestCopy_Stream_ErasesDeleted: the data file that copy-to-file and
// backup -nats write from a stream holding deleted content has none of
// its bytes, and dumps as the file that erased it, ids included.
func TestCopy_Stream_ErasesDeleted(t *testing.T) {
	d := mustWriteDeletedLog(t)
	url := mustStreamOf(t, d)
	want := dumpOf(t, d.data)
	for _, cmd := range [][]string{{"copy-to-file"}, {"backup"}} {
		out := filepath.Join(t.TempDir(), "copy.db")
		if _, _, err := runMain(t, append(cmd, "-nats", url, "-out", out)...); err != nil {
			t.Fatalf("%s: %v", cmd[0], err)
		}
		if fileContains(t, out, deletedMarker) {
			t.Errorf("the file %s wrote holds the deleted content", cmd[0])
		}
		if !fileContains(t, out, keptContent) {
			t.Errorf("the file %s wrote lacks the content no one deleted", cmd[0])
		}
		if got := dumpOf(t, out); got != want {
			t.Errorf("dump of the file %s wrote:\n%s\nwant, as of the file that erased:\n%s", cmd[0], got, want)
		}
	}
}

// TestCopy_Stream_EraseFromCluster runs README's procedure: copy the
// stream to a file, delete the stream, copy the file back. The new stream
// holds none of the deleted content's bytes, and the same records, ids
// included.
func TestCopy_Stream_EraseFromCluster(t *testing.T) {
	d := mustWriteDeletedLog(t)
	url := mustStreamOf(t, d)
	out := filepath.Join(t.TempDir(), "erased.db")
	if _, _, err := runMain(t, "copy-to-file", "-nats", url, "-out", out); err != nil {
		t.Fatal(err)
	}
	mustDeleteStream(t, url, "chateau")
	mustCopyToStream(t, out, url)
	if bytes.Contains(streamBytes(t, url), []byte(deletedMarker)) {
		t.Error("the new stream holds the deleted content")
	}
	if got, want := dumpOfStream(t, url), dumpOf(t, d.data); got != want {
		t.Errorf("dump of the new stream:\n%s\nwant, as of the file that erased:\n%s", got, want)
	}
}

// mustDeleteStream deletes the stream name at url, as `nats stream rm`
// does.
func mustDeleteStream(t *testing.T, url, name string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), streamTestWait)
	defer cancel()
	if err := js.DeleteStream(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestE2E_Dump_FollowStreamErases follows a stream holding deleted
// content with the real binary: the history shows none of it, then the
// records stored later follow.
func TestE2E_Dump_FollowStreamErases(t *testing.T) {
	d := mustWriteDeletedLog(t)
	url := mustStreamOf(t, d)
	f := startFollower(t, "-nats", url)
	want := strings.Split(strings.TrimSuffix(dumpOf(t, d.data), "\n"), "\n")
	for i, w := range want {
		select {
		case line, ok := <-f.lines:
			if !ok || line != w {
				t.Fatalf("history line %d: %q (open: %v), want %q: %s", i, line, ok, w, f.log())
			}
		case <-time.After(e2eWait):
			t.Fatalf("the follower did not print line %d within %v", i, e2eWait)
		}
	}
	later := mustAppendEvents(t, mustStreamLog(t, url),
		projection.Event{Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "team", Content: "later"}})
	f.expect(t, later...)
	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	f.wait(t, e2eWait)
}
