//go:build !unix

package loadgen

import "errors"

// RaiseFileLimit is not available here: the platform has no file limit
// to raise this way.
func RaiseFileLimit() (uint64, error) {
	return 0, errors.ErrUnsupported
}
