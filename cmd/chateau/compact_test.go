package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
	"github.com/chateau/chateau/projection"
	bolt "go.etcd.io/bbolt"
)

// deletedMarker stands for content that was deleted from the log.
const deletedMarker = "deleted-content-marker-91c4"

// compactOutput is what compact prints: sizes, nothing of the log.
var compactOutput = regexp.MustCompile(`^compacted \S+( into \S+)?: [0-9]+ bytes before, [0-9]+ after\n$`)

// TestCompact_DropsDeletedContent: the old bytes of a deleted record and
// of an overwritten one are in the data file until compact, and nowhere
// in the file it writes, in place or at -out; that file holds the same
// records, ids and bytes, and dumps the same. In place keeps the file's
// mode and leaves no temporary file; -out leaves -data as it was.
func TestCompact_DropsDeletedContent(t *testing.T) {
	tests := []struct {
		name  string
		out   string // "" compacts in place
		place func(t *testing.T, out string)
		force bool
	}{
		{"in place", "", nil, false},
		{"-out", "compact.db", nil, false},
		{"-out over a file, -force", "compact.db", mustWriteFile("mine"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := mustWriteLogWithDeletions(t)
			if err := os.Chmod(data, 0o640); err != nil {
				t.Fatal(err)
			}
			if !fileContains(t, data, deletedMarker) {
				t.Fatal("the deleted content's bytes are not in the file before compaction: the test proves nothing")
			}
			wantRecs, wantDump, dataSum := recordsOf(t, data), dumpOf(t, data), fileSum(t, data)
			args, result := []string{"compact", "-data", data}, data
			if tt.out != "" {
				result = filepath.Join(t.TempDir(), tt.out)
				args = append(args, "-out", result)
			}
			if tt.place != nil {
				tt.place(t, result)
			}
			if tt.force {
				args = append(args, "-force")
			}
			stdout, _, err := runMain(t, args...)
			if err != nil {
				t.Fatalf("compact: %v", err)
			}
			if !compactOutput.MatchString(stdout) {
				t.Errorf("compact printed %q, want sizes only", stdout)
			}
			if fileContains(t, result, deletedMarker) {
				t.Error("the deleted content's bytes are still in the compacted file")
			}
			if got := recordsOf(t, result); !slices.EqualFunc(got, wantRecs, sameRecord) {
				t.Errorf("the compacted file holds %d records, want the log's %d, ids and bytes alike", len(got), len(wantRecs))
			}
			if got := dumpOf(t, result); got != wantDump {
				t.Errorf("events dump of the compacted file:\n%s\nwant\n%s", got, wantDump)
			}
			if tt.out == "" {
				if info, err := os.Stat(data); err != nil || info.Mode().Perm() != 0o640 {
					t.Errorf("the data file's mode is %v (%v), want 0640 as before", info.Mode(), err)
				}
			} else if fileSum(t, data) != dataSum {
				t.Error("compact -out changed -data")
			}
			for _, f := range []string{data, result} {
				if entries, _ := os.ReadDir(filepath.Dir(f)); len(entries) != 1 {
					t.Errorf("the directory of %s holds %d entries, want 1 (no temporary file left)", f, len(entries))
				}
			}
		})
	}
}

// TestCompact_AfterDeleteMessage: a message deleted through the protocol,
// after an edit, is in no answer, no dump and no backup from the moment it
// is deleted, and after compact its words (the original's and the edit's)
// are nowhere in the file; the messages around it stay.
func TestCompact_AfterDeleteMessage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "chateau.db")
	p := startServe(t, data)
	ann, bob := p.dial(t), p.dial(t)
	ack(t, ann, map[string]any{"type": "RegisterRequest", "username": "ann"})
	ack(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob"})
	ack(t, ann, map[string]any{"type": "SingleMessageRequest", "recipient": "bob", "content": "kept before"})
	id := ack(t, ann, map[string]any{"type": "SingleMessageRequest", "recipient": "bob", "content": "oops " + deletedMarker})
	ack(t, ann, map[string]any{"type": "EditMessageRequest", "id": id, "content": "still " + deletedMarker + " edited"})
	ack(t, ann, map[string]any{"type": "DeleteMessageRequest", "id": id})
	ack(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "kept after"})
	h := call(t, bob, map[string]any{"type": "HistoryRequest", "recipient": "ann"})
	if b, _ := json.Marshal(h); bytes.Contains(b, []byte(deletedMarker)) || !bytes.Contains(b, []byte(`"deleted":true`)) {
		t.Fatalf("history after the deletion: %s", b)
	}
	// A backup taken after the deletion, through the server and from the
	// file, never holds the words: it is a compacted copy.
	backups := []string{filepath.Join(t.TempDir(), "served.db"), filepath.Join(t.TempDir(), "direct.db")}
	if _, _, err := runMain(t, "backup", "-data", data, "-out", backups[0]); err != nil {
		t.Fatalf("backup through the server: %v", err)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.log())
	}
	if _, _, err := runMain(t, "backup", "-data", data, "-out", backups[1]); err != nil {
		t.Fatalf("backup from the file: %v", err)
	}
	for _, b := range backups {
		if fileContains(t, b, deletedMarker) || !fileContains(t, b, "kept after") {
			t.Errorf("backup %s holds the deleted words, or lost the others", filepath.Base(b))
		}
	}
	if dump := dumpOf(t, data); strings.Contains(dump, deletedMarker) || !strings.Contains(dump, "kept after") {
		t.Fatalf("events dump after the deletion:\n%s", dump)
	}
	if _, _, err := runMain(t, "compact", "-data", data); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if fileContains(t, data, deletedMarker) {
		t.Error("the deleted message's words are still in the compacted file")
	}
	if !fileContains(t, data, "kept before") || !fileContains(t, data, "kept after") {
		t.Error("compact lost the messages around the deleted one")
	}
}

// TestCompact_Refused: a file a server holds, an existing -out without
// -force, a missing, corrupt or newer file, and -out naming -data are
// refused with one line, exit 1 (2 for the last), leaving every file as it
// was and none added.
func TestCompact_Refused(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, data, out string) []string // extra args
		want     string
		wantCode int
	}{
		{"server running", func(t *testing.T, data, _ string) []string {
			l, _, err := eventlog.Open(data, eventlog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return nil
		}, "data file is locked by another process", 1},
		{"-out exists", func(t *testing.T, _, out string) []string {
			mustWriteFile("mine")(t, out)
			return []string{"-out", out}
		}, "exists; give -force to replace it", 1},
		{"missing file", func(t *testing.T, data, _ string) []string {
			if err := os.Remove(data); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "data file does not exist", 1},
		{"corrupt file", func(t *testing.T, data, _ string) []string {
			mustWriteFile(strings.Repeat("not a database ", 1000))(t, data)
			return nil
		}, "corrupt", 1},
		{"newer file", func(t *testing.T, data, _ string) []string {
			rawEventsUpdate(t, data, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte(migrations.MetaBucket)).Put([]byte(migrations.VersionKey), []byte{0, 0, 0, 0, 0, 0, 0, 99})
			})
			return nil
		}, "newer", 1},
		{"-out is -data", func(t *testing.T, data, _ string) []string {
			return []string{"-out", data, "-force"}
		}, "is -data; leave -out out to compact in place", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := mustWriteLog(t, sampleEvents()...)
			out := filepath.Join(t.TempDir(), "compact.db")
			args := append([]string{"compact", "-data", data}, tt.setup(t, data, out)...)
			before := dirSums(t, filepath.Dir(data), filepath.Dir(out))
			start := time.Now()
			stdout, _, err := runMain(t, args...)
			var stderr bytes.Buffer
			if code := exitCode(err, &stderr); code != tt.wantCode || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 || stdout != "" {
				t.Errorf("compact: exit %d, stderr %q, printed %q; want %d and one line with %q", code, stderr.String(), stdout, tt.wantCode, tt.want)
			}
			if tt.name == "server running" && !strings.Contains(stderr.String(), "Stop it first") {
				t.Errorf("stderr %q does not say to stop the server", stderr.String())
			}
			if took := time.Since(start); took > lockRefusal {
				t.Errorf("compact took %v to refuse", took)
			}
			if after := dirSums(t, filepath.Dir(data), filepath.Dir(out)); !maps.Equal(after, before) {
				t.Errorf("files before: %v; after: %v; want them unchanged", before, after)
			}
		})
	}
}

// mustWriteLogWithDeletions writes a log of sampleEvents and two messages
// holding deletedMarker, then deletes one of those records and overwrites
// the other with a message without it, in a raw bbolt transaction: as a
// deletion of content would.
func mustWriteLogWithDeletions(t *testing.T) string {
	t.Helper()
	events := append(sampleEvents(),
		projection.Event{Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "team", Content: "oops " + deletedMarker}},
		projection.Event{Actor: "ann", Payload: projection.DirectMessageSent{Recipient: "carl", Content: "psst " + deletedMarker}},
		projection.Event{Actor: "carl", Payload: projection.DirectMessageSent{Recipient: "ann", Content: "ok"}},
	)
	data, ids := mustWriteLog(t, events...)
	redacted, err := projection.Encode(projection.Event{Actor: "ann", Payload: projection.DirectMessageSent{Recipient: "carl", Content: "[deleted]"}})
	if err != nil {
		t.Fatal(err)
	}
	rawEventsUpdate(t, data, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(migrations.EventsBucket))
		if err := b.Delete(ids[6][:]); err != nil {
			return err
		}
		return b.Put(ids[7][:], redacted)
	})
	return data
}

// rawEventsUpdate runs fn in one bbolt write transaction on the closed
// data file at path: what no command does.
func rawEventsUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// recordsOf returns copies of every record of the data file at path, as
// copy-to-stream reads them.
func recordsOf(t *testing.T, path string) []eventlog.Record {
	t.Helper()
	l, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var recs []eventlog.Record
	_, err = copyRecords(context.Background(), &fileRecords{log: l, path: path}, 0, func(got []eventlog.Record) error {
		recs = got
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func sameRecord(a, b eventlog.Record) bool {
	return a.ID == b.ID && bytes.Equal(a.Data, b.Data)
}

// fileContains reports whether the file at path holds s anywhere.
func fileContains(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

// dirSums returns the sha256 of every file in dirs, by path.
func dirSums(t *testing.T, dirs ...string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			sums[filepath.Join(dir, e.Name())] = fileSum(t, filepath.Join(dir, e.Name()))
		}
	}
	return sums
}
