//go:build !linux

package eventlog

import "os"

// sameFile reports whether path names the file whose identity is info.
func sameFile(path string, info os.FileInfo) (bool, error) {
	return sameFileStat(path, info)
}
