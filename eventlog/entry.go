package eventlog

import (
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// Entry is one event for a log that other writers append to as well (a
// stream shared by several Chateau nodes, package jetlog): its bytes, and
// what the log must check against everything stored, by any writer, before
// it stores them. A Log in a bbolt file has one writer, the process that
// locks it, so that process's memory decides both; it needs no Entry.
type Entry struct {
	Data []byte
	// Key, if not empty, claims a name for good: of all entries with the
	// same Key, only the first one stored is ever stored. Chateau keys the
	// events that make a user or a chat name exist.
	Key string
	// Dedup, if not empty, names the request the entry answers: an entry
	// whose Dedup repeats a stored entry's within the log's dedup window
	// is not stored again.
	Dedup string
}

// ErrConflict means an append stored nothing because an Entry's Key was
// already claimed or its Dedup already stored, by this writer or another.
var ErrConflict = errors.New("an entry's key is claimed or its request is already stored")

// DuplicateError is the ErrConflict of an append of one Entry whose Dedup
// was stored before, when the log can tell under which id: the writer can
// answer from that record even if it no longer remembers the request.
type DuplicateError struct {
	ID ulid.ULID // the stored record with the same Dedup
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%v: the request is stored as %s", ErrConflict, e.ID)
}

// Unwrap makes a DuplicateError an ErrConflict.
func (e *DuplicateError) Unwrap() error { return ErrConflict }
