package eventlog

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpenError: only damage that bbolt found is ErrCorrupt; the system's
// errors keep their cause, in words and for errors.Is.
func TestOpenError(t *testing.T) {
	const path = "/data/chateau.db"
	tests := []struct {
		name     string
		err      error
		sentinel error  // what errors.Is must find
		says     string // what the message must contain
	}{
		{"read-only file system", &fs.PathError{Op: "open", Path: path, Err: syscall.EROFS}, syscall.EROFS, "read-only file system"},
		{"disk full", &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}, syscall.ENOSPC, "no space left on device"},
		{"permission", &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}, fs.ErrPermission, "permission denied"},
		{"I/O error", &fs.PathError{Op: "read", Path: path, Err: syscall.EIO}, syscall.EIO, "input/output error"},
		{"bare errno from the lock", syscall.ENOLCK, syscall.ENOLCK, path + ": no locks available"},
		{"wrapped errno", fmt.Errorf("file stat error: %w", syscall.EIO), syscall.EIO, path + ": file stat error: input/output error"},
		{"errno lost by bbolt", fmt.Errorf("file resize error: %s", syscall.ENOSPC), nil, "no space left on device"},
		{"lock timeout", bolt.ErrTimeout, ErrLocked, "locked"},
		{"invalid", bolt.ErrInvalid, ErrCorrupt, "corrupt"},
		{"version mismatch", bolt.ErrVersionMismatch, ErrCorrupt, "corrupt"},
		{"checksum", bolt.ErrChecksum, ErrCorrupt, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := openError(path, tt.err)
			if tt.sentinel != nil && !errors.Is(got, tt.sentinel) {
				t.Errorf("openError = %v, want it to wrap %v", got, tt.sentinel)
			}
			if !strings.Contains(got.Error(), tt.says) {
				t.Errorf("openError = %q, want it to say %q", got, tt.says)
			}
			if corrupt := errors.Is(got, ErrCorrupt) || strings.Contains(got.Error(), "corrupt"); corrupt != (tt.sentinel == ErrCorrupt) {
				t.Errorf("openError = %q: corrupt %v, want %v", got, corrupt, !corrupt)
			}
		})
	}
}
