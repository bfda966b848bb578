package eventlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// statOpened returns a bbolt OpenFile that records in *info the identity
// of the first file it opens (the data file), from the open descriptor, so
// that no rename between opening and looking can mislead CheckPath.
func statOpened(info *os.FileInfo) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil || *info != nil {
			return f, err
		}
		if *info, err = f.Stat(); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}

// CheckPath returns ErrFileGone if the log's path no longer names the file
// the log has open (it was deleted, renamed, or another file was put in its
// place), another error if the path cannot be looked at, and nil if all is
// well. Append does this itself before each commit; a server can ask it
// to report its health.
func (l *Log) CheckPath() error {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	return l.checkPath()
}

func (l *Log) checkPath() error {
	same, err := sameFile(l.path, l.file)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %v", ErrFileGone, err)
	case err != nil:
		return fmt.Errorf("check the data file's path: %w", err)
	case !same:
		return fmt.Errorf("%w: %s is another file now", ErrFileGone, l.path)
	}
	return nil
}

// sameFileStat reports whether path names the file whose identity is info.
func sameFileStat(path string, info os.FileInfo) (bool, error) {
	now, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(now, info), nil
}
