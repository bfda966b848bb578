package eventlog

import "crypto/rand"

// cryptoReader feeds ULID entropy from crypto/rand, which is safe for
// concurrent use and never fails on supported platforms.
type cryptoReader struct{}

func (cryptoReader) Read(p []byte) (int, error) { return rand.Read(p) }
