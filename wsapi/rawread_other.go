//go:build !unix

package wsapi

import "errors"

// rawReads says whether batchConn reads sockets itself (readRaw): not
// here, where it falls back to the connection's own reads.
const rawReads = false

func readRaw(fd uintptr, p []byte) (n int, again bool, err error) {
	return 0, false, errors.ErrUnsupported
}
