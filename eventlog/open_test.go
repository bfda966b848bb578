package eventlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

func TestOpen_New(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chateau.db")
	l, applied, err := eventlog.Open(path, eventlog.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	want := make([]migrations.Applied, 0, len(migrations.All()))
	for _, m := range migrations.All() {
		want = append(want, migrations.Applied{Version: m.Version, Name: m.Name})
	}
	if !slices.Equal(applied, want) {
		t.Errorf("first open applied %v, want %v", applied, want)
	}
	if last := l.Last(); last != (ulid.ULID{}) {
		t.Errorf("Last of a new log = %s, want the zero ULID", last)
	}
	if recs := scanAll(t, l, ulid.ULID{}); len(recs) != 0 {
		t.Errorf("new log has %d records, want 0", len(recs))
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	l2, applied, err := eventlog.Open(path, eventlog.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l2.Close()
	if len(applied) != 0 {
		t.Errorf("second open applied %v, want nothing", applied)
	}
}

func TestOpen_ReadOnly(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.db")
		l, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: true})
		if !errors.Is(err, eventlog.ErrNotExist) {
			t.Errorf("Open = %v, want ErrNotExist", err)
		}
		if l != nil {
			t.Error("Open returned a log with its error")
			l.Close()
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("read-only open created %s (stat: %v)", path, err)
		}
	})

	t.Run("existing log", func(t *testing.T) {
		l, path := mustOpenLog(t)
		ids, err := l.Append(payloads(3)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		sum := fileSum(t, path)

		ro := mustOpen(t, path, eventlog.Options{ReadOnly: true})
		// A second reader shares the file.
		ro2 := mustOpen(t, path, eventlog.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
		if got := ro.Last(); got != ids[2] {
			t.Errorf("Last = %s, want %s", got, ids[2])
		}
		for _, r := range []*eventlog.Log{ro, ro2} {
			if recs := scanAll(t, r, ulid.ULID{}); len(recs) != 3 {
				t.Errorf("read-only scan returned %d records, want 3", len(recs))
			}
		}
		if _, err := ro.Append([]byte("x")); !errors.Is(err, eventlog.ErrReadOnly) {
			t.Errorf("Append on a read-only log = %v, want ErrReadOnly", err)
		}
		if err := ro.Check(); err != nil {
			t.Errorf("Check on a read-only log: %v", err)
		}
		for _, r := range []*eventlog.Log{ro, ro2} {
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if fileSum(t, path) != sum {
			t.Error("read-only use changed the file")
		}
	})

	t.Run("new bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "empty.db")
		makeBolt(t, path, func(*bolt.Tx) error { return nil })
		sum := fileSum(t, path)
		_, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: true})
		if !errors.Is(err, eventlog.ErrNeedsMigration) {
			t.Errorf("Open of an unmigrated file = %v, want ErrNeedsMigration", err)
		}
		if fileSum(t, path) != sum {
			t.Error("read-only open changed the file")
		}
	})
}

// TestOpen_EmptyFile: a file of 0 bytes is refused as that, read-write
// (where bbolt would make it a new log) and read-only, and left as it is.
func TestOpen_EmptyFile(t *testing.T) {
	for _, readOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("read-only=%v", readOnly), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "empty.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			l, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: readOnly})
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, eventlog.ErrEmpty) || errors.Is(err, eventlog.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open of an empty file = %v, want ErrEmpty naming the path", err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
				t.Errorf("Open wrote to an empty file (stat: %v, %v)", fi, err)
			}
		})
	}
}

func TestOpen_Migrations(t *testing.T) {
	l, path := mustOpenLog(t)
	ids, err := l.Append([]byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	v2 := append(migrations.All(), migrations.Migration{
		Version: migrations.Latest(migrations.All()) + 1,
		Name:    "test: add bucket extra",
		Up: func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("extra"))
			return err
		},
	})

	// Read-only with the longer list: the file needs migrating.
	if _, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: true, Migrations: v2}); !errors.Is(err, eventlog.ErrNeedsMigration) {
		t.Errorf("read-only Open with a pending migration = %v, want ErrNeedsMigration", err)
	}

	l, applied, err := eventlog.Open(path, eventlog.Options{Migrations: v2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []migrations.Applied{{Version: v2[len(v2)-1].Version, Name: v2[len(v2)-1].Name}}; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	if recs := scanAll(t, l, ulid.ULID{}); len(recs) != 1 || recs[0].ID != ids[0] {
		t.Errorf("migration lost the log's records: %v", recs)
	}
	if err := l.Check(); err != nil {
		t.Error(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// The default list now knows less than the file.
	sum := fileSum(t, path)
	for _, ro := range []bool{false, true} {
		_, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: ro})
		if !errors.Is(err, migrations.ErrTooNew) {
			t.Errorf("Open(ReadOnly=%v) of a newer file = %v, want ErrTooNew", ro, err)
		}
	}
	if fileSum(t, path) != sum {
		t.Error("opening a newer file changed it")
	}
}

func TestOpen_Locked(t *testing.T) {
	for _, ro := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReadOnly=%v", ro), func(t *testing.T) {
			l, path := mustOpenLog(t)
			start := time.Now()
			l2, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: ro, LockTimeout: 200 * time.Millisecond})
			elapsed := time.Since(start)
			if err == nil {
				l2.Close()
				t.Fatal("second Open of a file held read-write succeeded")
			}
			if !errors.Is(err, eventlog.ErrLocked) {
				t.Errorf("second Open = %v, want ErrLocked", err)
			}
			if elapsed > 5*time.Second {
				t.Errorf("second Open took %v to fail, want about the 200ms lock timeout", elapsed)
			}
			if elapsed < 150*time.Millisecond {
				t.Errorf("second Open failed after %v, before the 200ms lock timeout", elapsed)
			}
			// The first log still works, and the lock goes with it.
			if _, err := l.Append([]byte("still mine")); err != nil {
				t.Errorf("append on the first log: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l3 := mustOpen(t, path, eventlog.Options{ReadOnly: ro, LockTimeout: 200 * time.Millisecond})
			if recs := scanAll(t, l3, ulid.ULID{}); len(recs) != 1 {
				t.Errorf("reopened log has %d records, want 1", len(recs))
			}
		})
	}
}

func TestOpen_Corrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	data, used, pageSize := realLog(t)

	random := make([]byte, 64<<10)
	for i := range random {
		// A fixed pseudo-random sequence, so that failures reproduce.
		random[i] = byte((i*7919 + i*i*31 + 17) >> 3)
	}

	ps := pageSize
	tests := []struct {
		name string
		data []byte
	}{
		{"random bytes", random},
		{"random byte", random[:1]},
		{"zeros", make([]byte, 32<<10)},
		{"text", []byte("this is not a database\n")},
		{"truncated to 1 byte", data[:1]},
		{"truncated to 100 bytes", data[:100]},
		{"truncated within the first page", data[:ps-1]},
		{"truncated to one page", data[:ps]},
		{"truncated to the meta pages", data[:2*ps]},
		{"truncated after the meta pages", data[:2*ps+100]},
		{"truncated to half", data[:used/2]},
		{"truncated by one page", data[:used-int64(pageSize)]},
		{"truncated by one byte", data[:used-1]},
	}
	for _, tt := range tests {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ReadOnly=%v", tt.name, ro), func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "damaged.db")
				if err := os.WriteFile(path, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
				sum := fileSum(t, path)
				res := openInChild(t, path, ro)
				if fileSum(t, path) != sum {
					t.Errorf("Open changed the damaged file")
				}
				if res.crashed {
					t.Fatalf("the child crashed instead of Open returning ErrCorrupt:\n%s", res.output)
				}
				if res.open != "corrupt" {
					t.Errorf("Open result %q, want corrupt (ErrCorrupt)\n%s", res.open, res.output)
				}
			})
		}
	}
}

func realLog(t testing.TB) (data []byte, used int64, pageSize int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "real.db")
	l := mustOpen(t, path, eventlog.Options{UnsafeNoSync: true})
	for range 20 {
		batch := make([][]byte, 10)
		for i := range batch {
			batch[i] = bytes.Repeat([]byte{'e'}, 100)
		}
		if _, err := l.Append(batch...); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pages := boltPages(t, path)
	pageSize = boltPageSize(t, path)
	used = int64(len(pages)) * int64(pageSize)
	if used > int64(len(data)) || len(pages) < 6 {
		t.Fatalf("unexpected layout: %d pages of %d bytes in a file of %d", len(pages), pageSize, len(data))
	}
	return data, used, pageSize
}

func boltPages(t testing.TB, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var types []string
	err = db.View(func(tx *bolt.Tx) error {
		n := int(tx.Size() / int64(db.Info().PageSize))
		types = make([]string, n)
		for i := 0; i < n; i++ {
			if types[i] != "" {
				continue
			}
			info, err := tx.Page(i)
			if err != nil {
				return err
			}
			if info == nil {
				continue
			}
			types[i] = info.Type
			for j := 1; j <= info.OverflowCount && i+j < n; j++ {
				types[i+j] = "overflow"
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return types
}

func boltPageSize(t testing.TB, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Info().PageSize
}

func TestOpen_DamagedPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	data, used, pageSize := realLog(t)
	for pg := 2; int64(pg*pageSize) < used; pg++ {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("page=%d/ReadOnly=%v", pg, ro), func(t *testing.T) {
				t.Parallel()
				damaged := bytes.Clone(data)
				clear(damaged[pg*pageSize : (pg+1)*pageSize])
				path := filepath.Join(t.TempDir(), "damaged.db")
				if err := os.WriteFile(path, damaged, 0o600); err != nil {
					t.Fatal(err)
				}
				sum := fileSum(t, path)
				res := openInChild(t, path, ro)
				if fileSum(t, path) != sum {
					t.Errorf("the file changed")
				}
				if (res.crashed && res.scan != "") || (res.scan == "corrupt" && res.check == "ok") {
					// Open and Scan returned; Check crashed or missed the
					// damage (it may return nil before its goroutine's
					// panic ends the process).
					t.Errorf("Log.Check (eventlog.go, Check) crashes the process on a damaged page: "+
						"bbolt's Tx.Check runs in its own goroutine and panics there, where nothing can recover "+
						"(its deferred close(ch) may even let Check return nil first):\n%s",
						firstLines(res.output, 5))
				}
				if res.crashed {
					t.Fatalf("the child crashed (open %q, scan %q, check %q):\n%s", res.open, res.scan, res.check, res.output)
				}
				switch {
				case res.open != "ok" && res.open != "corrupt":
					t.Errorf("Open result %q, want ok or corrupt\n%s", res.open, res.output)
				case res.open == "ok" && res.scan != "ok" && res.scan != "corrupt":
					t.Errorf("Scan result %q, want ok or corrupt\n%s", res.scan, res.output)
				case res.scan == "ok" && res.events != 200:
					t.Errorf("Scan succeeded with %d events, want 200 (or ErrCorrupt)\n%s", res.events, res.output)
				case res.scan == "corrupt" && res.check != "error":
					t.Errorf("Scan found damage but Check returned %q\n%s", res.check, res.output)
				}
			})
		}
	}
}

func TestOpen_DamagedFreelist(t *testing.T) {
	data, _, pageSize := realLog(t)
	path := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pages := boltPages(t, path)
	damaged := 0
	for pg, typ := range pages {
		if typ == "freelist" {
			clear(data[pg*pageSize : (pg+1)*pageSize])
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatalf("no freelist page in %v", pages)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := fileSum(t, path)

	opt := eventlog.Options{LockTimeout: 200 * time.Millisecond}
	l, _, err := eventlog.Open(path, opt)
	if err == nil {
		l.Close()
		t.Fatal("Open of a file with a zeroed freelist succeeded")
	}
	if !errors.Is(err, eventlog.ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	for _, ro := range []bool{false, true} {
		opt.ReadOnly = ro
		l, _, err := eventlog.Open(path, opt)
		if l != nil {
			l.Close()
		}
		if errors.Is(err, eventlog.ErrLocked) {
			t.Errorf("eventlog.Open recovers bbolt's panic inside bolt.Open (catchCorrupt) while its "+
				"db variable is still nil, so the file bbolt opened and flock'ed is never closed: "+
				"every later Open in the process fails with %v", err)
		}
		if !errors.Is(err, eventlog.ErrCorrupt) {
			t.Errorf("Open(ReadOnly=%v) after a failed Open = %v, want ErrCorrupt again", ro, err)
		}
	}
	if fileSum(t, path) != sum {
		t.Error("Open changed the damaged file")
	}
}

func makeBolt(t testing.TB, path string, fill func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_Foreign(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	version := func(v uint64) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, byte(v)} }
	tests := []struct {
		name string
		fill func(*bolt.Tx) error
		want []string // acceptable results
	}{
		{"other bucket", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("other"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte("v"))
		}, []string{"foreign"}},
		{"meta without version", func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			return err
		}, []string{"foreign"}},
		{"short version", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			if err != nil {
				return err
			}
			return b.Put([]byte(migrations.VersionKey), []byte{0, 0, 0, 1})
		}, []string{"foreign"}},
		{"newer version", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			if err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(migrations.EventsBucket)); err != nil {
				return err
			}
			return b.Put([]byte(migrations.VersionKey), version(uint64(migrations.Latest(migrations.All())+1)))
		}, []string{"too-new"}},
		{"current version without events bucket", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			if err != nil {
				return err
			}
			return b.Put([]byte(migrations.VersionKey), version(uint64(migrations.Latest(migrations.All()))))
		}, []string{"corrupt", "foreign"}},
	}
	for _, tt := range tests {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ReadOnly=%v", tt.name, ro), func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "foreign.db")
				makeBolt(t, path, tt.fill)
				sum := fileSum(t, path)
				res := openInChild(t, path, ro)
				if fileSum(t, path) != sum {
					t.Errorf("Open changed the file")
				}
				if res.crashed {
					t.Fatalf("the child crashed instead of Open returning an error:\n%s", res.output)
				}
				if !slices.Contains(tt.want, res.open) {
					t.Errorf("Open result %q, want one of %q\n%s", res.open, tt.want, res.output)
				}
			})
		}
	}
}

func TestOpen_Foreign_InProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foreign.db")
	makeBolt(t, path, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("other"))
		if err != nil {
			return err
		}
		return b.Put([]byte("key"), []byte("value"))
	})
	sum := fileSum(t, path)
	for _, ro := range []bool{false, true} {
		l, _, err := eventlog.Open(path, eventlog.Options{ReadOnly: ro})
		if l != nil {
			l.Close()
			t.Errorf("Open(ReadOnly=%v) returned a log for a foreign file", ro)
		}
		if !errors.Is(err, migrations.ErrForeign) {
			t.Errorf("Open(ReadOnly=%v) = %v, want an error wrapping migrations.ErrForeign", ro, err)
		}
	}
	if fileSum(t, path) != sum {
		t.Error("Open changed a foreign file")
	}
	// The file is still usable by its owner: the lock was released.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("reopen the foreign file with bbolt: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("other")); b == nil || string(b.Get([]byte("key"))) != "value" {
			return errors.New("bucket other lost its key")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
