package eventlog

import (
	"errors"
	"fmt"

	"github.com/chateau/chateau/migrations"
	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// Errors returned by Import.
var (
	// ErrUnordered means the records given to Import do not have ids
	// that strictly increase, each greater than the log's last id. The
	// log's order is its ids' order, so it stores none of them.
	ErrUnordered = errors.New("imported ids do not strictly increase past the log's last id")
)

// Import stores recs with the ids they carry, in one write transaction:
// a copy of another log (a stream of package jetlog, or another file)
// keeps its ids. The ids must strictly increase, the first one greater
// than the log's last id; otherwise Import returns an error wrapping
// ErrUnordered and stores nothing. Like Append, on success the records
// are durable and later Appends get greater ids; on error none is stored.
// It is serialised with Append.
func (l *Log) Import(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	if l.db.IsReadOnly() {
		return ErrReadOnly
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := CheckOrder(l.last, recs); err != nil {
		return err
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		if err := l.checkPath(); err != nil {
			return err
		}
		b := tx.Bucket([]byte(migrations.EventsBucket))
		b.FillPercent = 1.0 // keys only grow, as in Append
		for _, rec := range recs {
			if err := b.Put(rec.ID[:], rec.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import %d events: %w", len(recs), err)
	}
	l.last = recs[len(recs)-1].ID
	l.wakeWaiters(false)
	return nil
}

// CheckOrder returns an error wrapping ErrUnordered unless the ids of
// recs strictly increase, the first one greater than after: what a log
// that keeps imported ids needs of them (this one, and package jetlog's).
func CheckOrder(after ulid.ULID, recs []Record) error {
	prev := after
	for i, rec := range recs {
		if rec.ID.Compare(prev) <= 0 {
			return fmt.Errorf("%w: record %d has id %s, not greater than %s", ErrUnordered, i, rec.ID, prev)
		}
		prev = rec.ID
	}
	return nil
}
