//go:build unix

package wsapi

import "syscall"

// rawReads says whether batchConn reads sockets itself (readRaw).
const rawReads = true

// readRaw reads from a non-blocking socket, retrying on interrupts; again
// reports that the socket had no data yet.
func readRaw(fd uintptr, p []byte) (n int, again bool, err error) {
	for {
		n, err = syscall.Read(int(fd), p)
		switch err {
		case nil:
			return n, false, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, true, nil
		}
		return 0, false, err
	}
}
