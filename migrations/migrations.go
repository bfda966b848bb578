// Package migrations brings a Chateau data file's bbolt layout up to the
// version this binary understands.
//
// The file records its schema version in the "meta" bucket under the key
// "schema_version" (8 bytes, big-endian). Each Migration runs in its own
// write transaction together with the version bump, so a failure leaves the
// file at the previous version. A file whose version is newer than the
// binary knows is refused and not modified.
//
// This package knows bbolt and nothing of the event log built on top of it.
package migrations

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// Bucket and key names shared with the event log. They are part of the
// file's layout and must never change without a migration.
const (
	// MetaBucket holds file-level facts such as the schema version.
	MetaBucket = "meta"
	// EventsBucket holds the events keyed by their 16 raw ULID bytes.
	EventsBucket = "events"
	// VersionKey is the key of the schema version in MetaBucket.
	VersionKey = "schema_version"
)

// Errors returned when a file cannot be migrated.
var (
	// ErrTooNew means the file was written by a newer Chateau.
	ErrTooNew = errors.New("data file schema is newer than this binary understands")
	// ErrForeign means the file is a bbolt database that Chateau did not write.
	ErrForeign = errors.New("not a Chateau data file")
)

// Migration is one step of the file's layout history.
type Migration struct {
	// Version is the schema version the file has after Up; versions start
	// at 1 and increase by one per migration.
	Version int
	// Name says what the step does; it is printed by `chateau migrate`.
	Name string
	// Up changes the layout inside tx. It must not commit or roll back.
	Up func(tx *bolt.Tx) error
}

// All returns the migrations this binary knows, in order.
func All() []Migration {
	return []Migration{
		{Version: 1, Name: "create meta and events buckets", Up: initial},
	}
}

// Latest returns the version a file has after all of list has run.
func Latest(list []Migration) int {
	if len(list) == 0 {
		return 0
	}
	return list[len(list)-1].Version
}

func initial(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(MetaBucket)); err != nil {
		return err
	}
	_, err := tx.CreateBucketIfNotExists([]byte(EventsBucket))
	return err
}

// Version reads the schema version recorded in the file. A file with no
// buckets at all is new and has version 0; a file with buckets but no
// Chateau meta bucket is foreign.
func Version(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket([]byte(MetaBucket))
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if empty {
			return 0, nil
		}
		return 0, ErrForeign
	}
	v := meta.Get([]byte(VersionKey))
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: schema version is missing or malformed", ErrForeign)
	}
	u := binary.BigEndian.Uint64(v)
	if u > math.MaxInt32 {
		// Far beyond any version this code will know: too new, not negative.
		return math.MaxInt32, nil
	}
	return int(u), nil
}

// Check reads the file's version without modifying it and refuses a file
// that this binary cannot use: ErrTooNew if the version is newer than the
// latest of list, ErrForeign if Chateau did not write it. An older version
// is no error: Run migrates it, and a read-only open refuses it itself.
func Check(tx *bolt.Tx, list []Migration) (int, error) {
	v, err := Version(tx)
	if err != nil {
		return v, err
	}
	if latest := Latest(list); v > latest {
		return v, fmt.Errorf("%w: file has version %d, this binary knows up to %d", ErrTooNew, v, latest)
	}
	return v, nil
}

// Applied describes one migration that Run applied.
type Applied struct {
	Version int
	Name    string
}

// Run applies the pending migrations of list to db in order, each in its own
// write transaction, and returns those it applied. A file newer than list
// knows is refused with ErrTooNew before anything is written.
func Run(db *bolt.DB, list []Migration) ([]Applied, error) {
	var current int
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		current, err = Check(tx, list)
		return err
	}); err != nil {
		return nil, err
	}
	var done []Applied
	for _, m := range list {
		if m.Version <= current {
			continue
		}
		if m.Version != current+1 {
			return done, fmt.Errorf("migration %d (%s): expected version %d next", m.Version, m.Name, current+1)
		}
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.Up(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists([]byte(MetaBucket))
			if err != nil {
				return err
			}
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], uint64(m.Version))
			return meta.Put([]byte(VersionKey), buf[:])
		})
		if err != nil {
			return done, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		current = m.Version
		done = append(done, Applied{Version: m.Version, Name: m.Name})
	}
	return done, nil
}
