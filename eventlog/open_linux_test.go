//go:build linux

package eventlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// wantSystemError checks that Open's err is the system's errno, says so in
// words, and calls nothing corrupt.
func wantSystemError(t *testing.T, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("Open = %v, want %v", err, errno)
	}
	if err == nil {
		return
	}
	if errors.Is(err, eventlog.ErrCorrupt) || strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Open = %q: the file is not damaged", err)
	}
	if !strings.Contains(err.Error(), errno.Error()) {
		t.Errorf("Open = %q, want it to say %q", err, errno.Error())
	}
}

// TestOpen_DiskFull creates a data file on a full disk: /dev/full fails
// every write with ENOSPC as a full file system does, and the data path is
// a link to it, so bbolt's first write (the new file's meta pages) fails.
func TestOpen_DiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	path := filepath.Join(t.TempDir(), "chateau.db")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	l, _, err := eventlog.Open(path, eventlog.Options{})
	if err == nil {
		l.Close()
	}
	wantSystemError(t, err, syscall.ENOSPC)
}

// TestOpen_ReadOnlyFileSystem opens a new and an existing data file on a
// read-only tmpfs. Mounting needs root (CAP_SYS_ADMIN): elsewhere it skips.
func TestOpen_ReadOnlyFileSystem(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	existing := filepath.Join(dir, "chateau.db")
	l, _, err := eventlog.Open(existing, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount the tmpfs read-only: %v", err)
	}

	for _, path := range []string{existing, filepath.Join(dir, "new.db")} {
		l, _, err := eventlog.Open(path, eventlog.Options{})
		if err == nil {
			l.Close()
		}
		wantSystemError(t, err, syscall.EROFS)
	}
	// Reading it needs no writing: a backup or a dump still works.
	l = mustOpen(t, existing, eventlog.Options{ReadOnly: true})
	if recs := scanAll(t, l, ulid.ULID{}); len(recs) != 1 {
		t.Errorf("read-only open found %d records, want 1", len(recs))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpen_Directory: a data path that names a directory is that, not a
// corrupt file.
func TestOpen_Directory(t *testing.T) {
	for _, ro := range []bool{false, true} {
		_, _, err := eventlog.Open(t.TempDir(), eventlog.Options{ReadOnly: ro})
		wantSystemError(t, err, syscall.EISDIR)
	}
}
