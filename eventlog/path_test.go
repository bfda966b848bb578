package eventlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// TestLog_Append_FileGone takes the data file away from under an open log
// in each way an operator might: Append stores nothing and says so, reads
// and Backup still see every stored event, and a file put back where it
// was takes appends again.
func TestLog_Append_FileGone(t *testing.T) {
	tests := []struct {
		name    string
		takeOff func(t *testing.T, path string)
		putBack func(t *testing.T, path string) // nil: it cannot be put back
	}{
		{"deleted", func(t *testing.T, path string) { mustDo(t, os.Remove(path)) }, nil},
		{"renamed away", func(t *testing.T, path string) { mustDo(t, os.Rename(path, path+".moved")) },
			func(t *testing.T, path string) { mustDo(t, os.Rename(path+".moved", path)) }},
		{"replaced", func(t *testing.T, path string) {
			mustDo(t, os.WriteFile(path+".new", []byte("another file"), 0o600))
			mustDo(t, os.Rename(path+".new", path))
		}, nil},
		{"directory renamed", func(t *testing.T, path string) {
			mustDo(t, os.Rename(filepath.Dir(path), filepath.Dir(path)+".moved"))
		}, func(t *testing.T, path string) {
			mustDo(t, os.Rename(filepath.Dir(path)+".moved", filepath.Dir(path)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "chateau.db")
			mustDo(t, os.Mkdir(filepath.Dir(path), 0o700))
			l := mustOpen(t, path, eventlog.Options{})
			stored, err := l.Append(payloads(3)...)
			mustDo(t, err)
			if err := l.CheckPath(); err != nil {
				t.Fatalf("CheckPath of an open log = %v", err)
			}

			tt.takeOff(t, path)
			if err := l.CheckPath(); !errors.Is(err, eventlog.ErrFileGone) {
				t.Errorf("CheckPath = %v, want ErrFileGone", err)
			}
			if ids, err := l.Append([]byte("lost")); !errors.Is(err, eventlog.ErrFileGone) || ids != nil {
				t.Errorf("Append = %v, %v; want ErrFileGone", ids, err)
			}
			if last := l.Last(); last != stored[2] {
				t.Errorf("Last = %s after a refused Append, want %s", last, stored[2])
			}
			if n := len(scanAll(t, l, ulid.ULID{})); n != 3 {
				t.Errorf("Scan found %d records, want 3", n)
			}
			if n := backupRecords(t, l); n != 3 {
				t.Errorf("the backup holds %d records, want 3", n)
			}

			if tt.putBack == nil {
				return
			}
			tt.putBack(t, path)
			if err := l.CheckPath(); err != nil {
				t.Errorf("CheckPath after putting the file back = %v", err)
			}
			if _, err := l.Append([]byte("kept")); err != nil {
				t.Errorf("Append after putting the file back = %v", err)
			}
		})
	}
}

func TestLog_CheckPath_Closed(t *testing.T) {
	l, _ := mustOpenLog(t)
	mustDo(t, l.Close())
	if err := l.CheckPath(); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("CheckPath after Close = %v, want ErrClosed", err)
	}
}

// backupRecords writes l's backup to a new file and counts its records.
func backupRecords(t *testing.T, l *eventlog.Log) int {
	t.Helper()
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if _, err := l.BackupTo(copyPath); err != nil {
		t.Fatalf("backup: %v", err)
	}
	return len(scanAll(t, mustOpen(t, copyPath, eventlog.Options{ReadOnly: true}), ulid.ULID{}))
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
