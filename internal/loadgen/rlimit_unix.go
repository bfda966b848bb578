//go:build unix

package loadgen

import "syscall"

// RaiseFileLimit raises this process's soft limit on open files to its
// hard limit and returns the limit now in force. Each connection is a
// file; Go does the same at start on Linux, but not every platform or
// parent process leaves it so.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		want := l
		want.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return l.Cur, err
		}
		l = want
	}
	return l.Cur, nil
}
