package eventlog_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// marker stands for content that was deleted: its bytes must not survive
// compaction.
var marker = []byte("secret-marker-7f3a")

// mustWriteMarked writes a closed log of 50 records, those at the indexes
// marked ending with marker, and returns its path and records.
func mustWriteMarked(t *testing.T, marked ...int) (string, []eventlog.Record) {
	t.Helper()
	l, path := mustOpenLog(t)
	for i, p := range payloads(50) {
		if slices.Contains(marked, i) {
			p = append(p, marker...)
		}
		if _, err := l.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	recs := scanAll(t, l, ulid.ULID{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, recs
}

// TestLog_CompactTo_DropsFreedBytes: after a value is deleted and another
// overwritten, the file still holds their old bytes; the compacted copy
// holds none of them, and exactly the remaining records and the schema
// version.
func TestLog_CompactTo_DropsFreedBytes(t *testing.T) {
	path, recs := mustWriteMarked(t, 10, 20)
	rawUpdate(t, path, func(b *bolt.Bucket) error {
		if err := b.Delete(recs[10].ID[:]); err != nil {
			return err
		}
		return b.Put(recs[20].ID[:], []byte("redacted"))
	})
	want := append(slices.Clone(recs[:10]), recs[11:]...)
	want[19].Data = []byte("redacted")
	if !fileHolds(t, path, marker) {
		t.Fatal("the deleted value's bytes are not in the file before compaction: the test proves nothing")
	}

	src := mustOpen(t, path, eventlog.Options{ReadOnly: true})
	out := filepath.Join(t.TempDir(), "compact.db")
	if err := src.CompactTo(out); err != nil {
		t.Fatalf("CompactTo: %v", err)
	}
	if fileHolds(t, out, marker) {
		t.Error("the compacted copy holds the deleted value's bytes")
	}
	c := mustOpen(t, out, eventlog.Options{ReadOnly: true})
	if got := scanAll(t, c, ulid.ULID{}); !slices.EqualFunc(got, want, sameRecord) {
		t.Errorf("the copy holds %d records, want the %d left in the log, ids and bytes", len(got), len(want))
	}
	if got, want := schemaVersion(t, out), schemaVersion(t, path); !bytes.Equal(got, want) {
		t.Errorf("the copy's schema version is %x, want %x", got, want)
	}
}

// TestLog_BackupTo_DropsFreedBytes: a backup of a log whose file still
// holds a deleted value's bytes in a freed page holds none of them, and
// every record left.
func TestLog_BackupTo_DropsFreedBytes(t *testing.T) {
	path, recs := mustWriteMarked(t, 10)
	rawUpdate(t, path, func(b *bolt.Bucket) error { return b.Delete(recs[10].ID[:]) })
	if !fileHolds(t, path, marker) {
		t.Fatal("the deleted value's bytes are not in the file: the test proves nothing")
	}
	src := mustOpen(t, path, eventlog.Options{})
	out := filepath.Join(t.TempDir(), "backup.db")
	size, err := src.BackupTo(out)
	if err != nil {
		t.Fatalf("BackupTo: %v", err)
	}
	if info, err := os.Stat(out); err != nil || info.Size() != size {
		t.Errorf("BackupTo said %d bytes; the file: %v, %v", size, info, err)
	}
	if fileHolds(t, out, marker) {
		t.Error("the backup holds the deleted value's bytes")
	}
	want := append(slices.Clone(recs[:10]), recs[11:]...)
	if got := scanAll(t, mustOpen(t, out, eventlog.Options{ReadOnly: true}), ulid.ULID{}); !slices.EqualFunc(got, want, sameRecord) {
		t.Errorf("the backup holds %d records, want the %d left in the log", len(got), len(want))
	}
}

// TestLog_CompactTo_PagesFull: the copy of a log appended one record at a
// time is smaller than the log, and its leaf pages are as full as
// Append keeps them (bolt.Compact fills pages to FillPercent 1.0).
func TestLog_CompactTo_PagesFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chateau.db")
	l := mustOpen(t, path, eventlog.Options{UnsafeNoSync: true})
	for range 5000 {
		if _, err := l.Append(bytes.Repeat([]byte{'x'}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "compact.db")
	if err := l.CompactTo(out); err != nil {
		t.Fatal(err)
	}
	before, after := fileSize(t, path), fileSize(t, out)
	if after >= before {
		t.Errorf("the copy has %d bytes, the log %d: want it smaller", after, before)
	}
	var s bolt.BucketStats
	rawView(t, out, func(tx *bolt.Tx) { s = tx.Bucket([]byte(migrations.EventsBucket)).Stats() })
	if fill := float64(s.LeafInuse) / float64(s.LeafAlloc); fill < 0.9 {
		t.Errorf("leaf pages %.0f%% full (%d of %d bytes in %d pages), want at least 90%%",
			fill*100, s.LeafInuse, s.LeafAlloc, s.LeafPageN)
	}
}

// TestLog_CompactTo_NoSlack: bbolt grows a file of more than 16 MiB by
// 16 MiB at a time; the copy of one ends within two pages of its data,
// not up to 16 MiB past it.
func TestLog_CompactTo_NoSlack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chateau.db")
	l := mustOpen(t, path, eventlog.Options{UnsafeNoSync: true})
	for range 100 {
		if _, err := l.Append(bytes.Repeat([]byte{'x'}, 200<<10)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "compact.db")
	if err := l.CompactTo(out); err != nil {
		t.Fatal(err)
	}
	before, after := fileSize(t, path), fileSize(t, out)
	var used, pageSize int64
	rawView(t, out, func(tx *bolt.Tx) { used, pageSize = tx.Size(), int64(tx.DB().Info().PageSize) })
	if slack := after - used; after >= before || slack > 2*pageSize {
		t.Errorf("the copy has %d bytes, %d past its pages' end; the log %d: want it smaller, within 2 pages of its end", after, slack, before)
	}
}

// TestLog_CompactTo_WhileAppending: appends wait for a compaction rather
// than make the copy differ from the log it is compared with.
func TestLog_CompactTo_WhileAppending(t *testing.T) {
	l, _ := mustOpenLog(t)
	if _, err := l.Append(payloads(1000)...); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	appendErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				appendErr <- nil
				return
			default:
			}
			if _, err := l.Append([]byte("more")); err != nil {
				appendErr <- err
				return
			}
		}
	}()
	err := l.CompactTo(filepath.Join(t.TempDir(), "compact.db"))
	close(done)
	if err != nil {
		t.Errorf("CompactTo while appending: %v", err)
	}
	if err := <-appendErr; err != nil {
		t.Errorf("Append during CompactTo: %v", err)
	}
}

// TestLog_CompactTo_Refused: an existing file is never written over, and
// a closed log compacts nothing.
func TestLog_CompactTo_Refused(t *testing.T) {
	l, _ := mustOpenLog(t)
	if _, err := l.Append(payloads(3)...); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "compact.db")
	if err := os.WriteFile(out, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.CompactTo(out); !errors.Is(err, os.ErrExist) {
		t.Errorf("CompactTo an existing file: %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "mine" {
		t.Errorf("the existing file holds %q, want it untouched", b)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.CompactTo(filepath.Join(t.TempDir(), "closed.db")); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("CompactTo after Close: %v, want ErrClosed", err)
	}
}

// rawUpdate runs fn on the events bucket of the closed log at path in one
// bbolt write transaction: what no method of the log does.
func rawUpdate(t *testing.T, path string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte(migrations.EventsBucket))) }); err != nil {
		t.Fatal(err)
	}
}

// rawView runs fn in a bbolt read transaction on the closed file at path.
func rawView(t *testing.T, path string, fn func(tx *bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error { fn(tx); return nil })
}

// schemaVersion returns the raw schema version of the file at path.
func schemaVersion(t *testing.T, path string) []byte {
	t.Helper()
	var v []byte
	rawView(t, path, func(tx *bolt.Tx) {
		v = bytes.Clone(tx.Bucket([]byte(migrations.MetaBucket)).Get([]byte(migrations.VersionKey)))
	})
	if v == nil {
		t.Fatalf("%s holds no schema version", path)
	}
	return v
}

func sameRecord(a, b eventlog.Record) bool {
	return a.ID == b.ID && bytes.Equal(a.Data, b.Data)
}

// fileHolds reports whether the file at path holds b anywhere.
func fileHolds(t *testing.T, path string, b []byte) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, b)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}
