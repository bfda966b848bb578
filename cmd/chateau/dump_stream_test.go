package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/projection"
	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"
)

// streamTestWait bounds a test's own waits on NATS.
const streamTestWait = 30 * time.Second

// mustStreamLog opens the stream "chateau" at url for writing, on a
// connection of its own, both closed when the test ends.
func mustStreamLog(t *testing.T, url string) *jetlog.Log {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), streamTestWait)
	defer cancel()
	l, err := jetlog.Open(ctx, nc, jetlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// mustAppendEvents appends events to the stream's log, one at a time,
// and returns their ids as text.
func mustAppendEvents(t *testing.T, l *jetlog.Log, events ...projection.Event) []string {
	t.Helper()
	var ids []string
	for _, id := range appendEvents(t, l.Append, events...) {
		ids = append(ids, id.String())
	}
	return ids
}

// dumpOfStream returns `events dump` of the stream "chateau" at url.
func dumpOfStream(t *testing.T, url string) string {
	t.Helper()
	out, _, err := runMain(t, "events", "dump", "-nats", url)
	if err != nil {
		t.Fatalf("dump of the stream at %s: %v", url, err)
	}
	return out
}

// TestDump_Stream_SameAsFile: events dump of a stream that holds a data
// file's records, with their ids, prints what the dump of the file
// prints, byte for byte, in both formats and through every filter, and
// fails alike for names the log lacks.
func TestDump_Stream_SameAsFile(t *testing.T) {
	data, ids := mustWriteLog(t, sampleEvents()...)
	url := natstest.Start(t).URL()
	mustImportFile(t, data, mustStreamLog(t, url))
	for _, args := range [][]string{
		nil,
		{"-format", "text"},
		{"-type", "UserRegistered"},
		{"-chat", "team"},
		{"-user", "bob"},
		{"-user", "carl", "-format", "text"},
		{"-since", ids[3].String()},
		{"-limit", "2"},
		{"-user", "ann", "-since", ids[0].String(), "-limit", "2"},
		{"-chat", "team", "-since", ids[5].String()},
		{"-chat", "nope"},
		{"-user", "dave"},
		{"-chat", "nope", "-since", ids[2].String()},
	} {
		want, _, wantErr := runMain(t, append([]string{"events", "dump", "-data", data}, args...)...)
		if len(args) == 0 && strings.Count(want, "\n") != len(ids) {
			t.Fatalf("dump of the file has %d lines, want %d", strings.Count(want, "\n"), len(ids))
		}
		got, _, err := runMain(t, append([]string{"events", "dump", "-nats", url}, args...)...)
		if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("dump of the stream %v:\n%s(%v)\nwant, as of the file:\n%s(%v)", args, got, err, want, wantErr)
		}
	}
}

// mustImportFile imports every record of the data file at path into l.
func mustImportFile(t *testing.T, path string, l *jetlog.Log) {
	t.Helper()
	f, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []eventlog.Record
	err = f.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		recs = append(recs, eventlog.Record{ID: rec.ID, Data: bytes.Clone(rec.Data)})
		return nil
	})
	if err == nil {
		err = l.Import(recs)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestE2E_Dump_FollowStream follows a stream with the real binary: the
// history, then each record another writer stores, filtered; SIGINT ends
// it with exit 0.
func TestE2E_Dump_FollowStream(t *testing.T) {
	url := natstest.Start(t).URL()
	l := mustStreamLog(t, url)
	ids := mustAppendEvents(t, l, sampleEvents()...)
	all := startFollower(t, "-nats", url, "-format", "text")
	team := startFollower(t, "-nats", url, "-chat", "team", "-since", ids[3])
	all.expect(t, ids...)
	team.expect(t, ids[4])
	later := mustAppendEvents(t, l,
		projection.Event{Actor: "carl", Payload: projection.DirectMessageSent{Recipient: "ann", Content: "later"}},
		projection.Event{Actor: "ann", Payload: projection.GroupMessagePosted{Chat: "team", Content: "again"}},
	)
	all.expect(t, later...)
	team.expect(t, later[1])
	for _, f := range []*follower{all, team} {
		if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		f.wait(t, e2eWait)
	}
}
