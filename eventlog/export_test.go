package eventlog

import "github.com/oklog/ulid/v2"

// Last returns the id that the log's next Append must exceed: the newest
// record's, as Open loaded it and Append advanced it, or the zero ULID.
// It exists for the tests only, which check that bookkeeping; the server
// has no use for it.
func (l *Log) Last() ulid.ULID {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	return l.last
}
