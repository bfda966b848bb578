// Package eventlog is Chateau's append-only log of events in a bbolt file.
//
// The log knows ids, bytes and bbolt; it knows nothing of chat. Each record
// is stored in the "events" bucket under the 16 raw bytes of its ULID, so a
// bbolt cursor walks the records in the order they were appended. Ids are
// assigned by Append, strictly increasing across calls and restarts. A
// record's bytes may be replaced only in the transaction of a later append
// (AppendRewriting), which is how a deletion erases what it deletes; its
// id and place never change.
package eventlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/chateau/chateau/migrations"
	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// Errors returned by Open.
var (
	// ErrLocked means another process holds the data file (a running server).
	ErrLocked = errors.New("data file is locked by another process")
	// ErrCorrupt means the file's contents are damaged or not a bbolt
	// database. The system's errors (a read-only file system, a full disk,
	// no permission, an I/O error) are never ErrCorrupt: Open returns them
	// with their cause, for errors.Is.
	ErrCorrupt = errors.New("data file is corrupt or not a bbolt database")
	// ErrEmpty means the path names a regular file of 0 bytes. bbolt
	// would silently make it a new database on a read-write open, and
	// fail to write to it on a read-only one. An empty file holds no log
	// (bbolt's first write makes a new one 4 pages long): it is a copy or
	// restore that failed, a slip of the operator, or at most a first
	// start killed before that write, when nothing was stored yet. Since
	// a new log there would hide the first two, it is refused; removing
	// the file starts a new log.
	ErrEmpty = errors.New("data file is empty (0 bytes), not a Chateau data file")
	// ErrNotExist means a read-only open found no file.
	ErrNotExist = errors.New("data file does not exist")
	// ErrNeedsMigration means a read-only open found an older layout.
	ErrNeedsMigration = errors.New("data file needs migration (run `chateau migrate`)")
)

// Errors returned by Append and Scan.
var (
	// ErrClosed means the log was closed.
	ErrClosed = errors.New("event log is closed")
	// ErrReadOnly means Append was called on a log opened read-only.
	ErrReadOnly = errors.New("event log is read-only")
	// ErrNotFound means Get was asked for an id the log does not hold, or
	// a Rewrite named one.
	ErrNotFound = errors.New("no such event")
	// ErrNoIDs means no id greater than the last one exists: the log
	// already holds an id at ULID's largest time (the year 10889).
	ErrNoIDs = errors.New("no event ids left")
	// ErrFileGone means the log's path no longer names the file it has
	// open: the file was deleted, renamed or replaced. Append stores
	// nothing then, since the next Open of the path would not find it;
	// reading (Scan, Get, Backup) still works on the open file.
	ErrFileGone = errors.New("the data file's path no longer names the open file: it was deleted or replaced")
)

// Record is one stored event: its id and its opaque encoded bytes.
type Record struct {
	ID   ulid.ULID
	Data []byte
}

// Options configure Open. The zero value opens read-write, creates and
// migrates the file, waits up to one second for the file lock and syncs
// every commit.
type Options struct {
	// ReadOnly opens the file with a shared lock and never writes to it.
	ReadOnly bool
	// LockTimeout bounds the wait for the file lock; 0 means one second.
	LockTimeout time.Duration
	// Now is the clock used for new ids; nil means time.Now.
	Now func() time.Time
	// UnsafeNoSync turns off fsync on commit. It exists only to measure what
	// durability costs; a crash may then lose acknowledged events.
	UnsafeNoSync bool
	// Migrations to apply on a read-write open; nil means migrations.All().
	Migrations []migrations.Migration
}

// Log is an open event log.
//
// A Log is safe for concurrent use. Append calls are serialised; each is one
// bbolt write transaction that commits (with fsync) or rolls back as a whole,
// and first checks that the path still names the open file (CheckPath).
// Scan runs in its own read transaction and may run concurrently with Append.
// Appended tells when the next Append has committed.
// A Log must be closed with Close; after Close every method returns ErrClosed.
type Log struct {
	db   *bolt.DB
	now  func() time.Time
	path string
	file os.FileInfo // the open file's identity, for CheckPath

	// closeMu is held shared by every operation and exclusively by Close,
	// so Close waits for them and they see a consistent closed.
	closeMu sync.RWMutex
	closed  bool

	appendMu sync.Mutex // serialises Append; guards last and entropy
	last     ulid.ULID
	entropy  io.Reader

	appendedMu    sync.Mutex    // guards appended and appendedFinal
	appended      chan struct{} // handed out by Appended; nil until asked for
	appendedFinal bool          // the log is closed: appended stays closed
}

// Open opens the log at path. A read-write open creates the file if it is
// missing and applies pending migrations, returning those applied; a
// read-only open requires an existing file at the latest version.
func Open(path string, opt Options) (l *Log, applied []migrations.Applied, err error) {
	var db *bolt.DB
	defer func() {
		if err != nil && db != nil {
			_ = db.Close()
		}
	}()
	defer catchCorrupt(debug.SetPanicOnFault(true), &err)

	if opt.LockTimeout == 0 {
		opt.LockTimeout = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Migrations == nil {
		opt.Migrations = migrations.All()
	}
	if opt.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil, fmt.Errorf("%w: %s", ErrNotExist, path)
			}
			return nil, nil, err
		}
	}
	if err := precheck(path); err != nil {
		return nil, nil, err
	}
	var file os.FileInfo
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.LockTimeout, ReadOnly: opt.ReadOnly, OpenFile: statOpened(&file)})
	if err != nil {
		db = nil
		return nil, nil, openError(path, err)
	}
	db.NoSync = opt.UnsafeNoSync

	if opt.ReadOnly {
		err = db.View(func(tx *bolt.Tx) error {
			v, err := migrations.Check(tx, opt.Migrations)
			if err == nil && v < migrations.Latest(opt.Migrations) {
				err = fmt.Errorf("%w: file has version %d", ErrNeedsMigration, v)
			}
			return err
		})
	} else {
		applied, err = migrations.Run(db, opt.Migrations)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}

	l = &Log{db: db, now: opt.Now, path: path, file: file, entropy: ulid.Monotonic(cryptoReader{}, 0)}
	err = db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket([]byte(migrations.EventsBucket)).Cursor().Last(); k != nil {
			return l.last.UnmarshalBinary(k)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: last event id: %v", ErrCorrupt, path, err)
	}
	return l, applied, nil
}

// openError names what stopped bbolt from opening path: the lock, damage
// bbolt found in the file's meta pages, or else the system's own error (a
// read-only file system, a full disk, no permission, an I/O error), which
// is no damage of the file: it is returned as it is, or wrapped with %w
// when it does not name the path, so that errors.Is still finds its errno.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrChecksum):
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	case errors.As(err, new(*fs.PathError)):
		return err // it names the operation, the path and the cause
	}
	return fmt.Errorf("%s: %w", path, err)
}

// catchCorrupt turns a panic, or a memory fault in bbolt's mapping of a
// damaged file, into ErrCorrupt. Use it as
//
//	defer catchCorrupt(debug.SetPanicOnFault(true), &err)
//
// so that faults panic from the start of the function; it restores the
// goroutine's previous setting.
func catchCorrupt(oldPanicOnFault bool, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrCorrupt, r)
	}
	debug.SetPanicOnFault(oldPanicOnFault)
}

// Append stores data as new records in one write transaction and returns
// their ids, in order. When Append returns without error the records are
// durable (unless the log was opened with UnsafeNoSync); on error none of
// them is stored.
func (l *Log) Append(data ...[]byte) ([]ulid.ULID, error) {
	return l.AppendRewriting(nil, data...)
}

// Rewrite replaces the data of a stored record, in the transaction of an
// AppendRewriting: Edit gets the stored bytes, valid only during the call,
// and returns the new ones. It is the log's one exception to "records
// never change": a deletion erasing what it deletes.
type Rewrite struct {
	ID   ulid.ULID
	Edit func(old []byte) ([]byte, error)
}

// AppendRewriting is Append, and in the same write transaction replaces
// the records of rewrites: all of it is stored, or none of it (an Edit's
// error, or a record that does not exist, ErrNotFound, roll it back).
func (l *Log) AppendRewriting(rewrites []Rewrite, data ...[]byte) ([]ulid.ULID, error) {
	if len(data) == 0 {
		return nil, nil
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.db.IsReadOnly() {
		return nil, ErrReadOnly
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	ids := make([]ulid.ULID, len(data))
	last := l.last
	for i := range ids {
		var err error
		if last, err = l.next(last); err != nil {
			return nil, err
		}
		ids[i] = last
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		// Committing into a file that no next start would find loses
		// the events; one stat per commit is little next to its fsyncs.
		if err := l.checkPath(); err != nil {
			return err
		}
		b := tx.Bucket([]byte(migrations.EventsBucket))
		// Keys only ever grow, so a page that splits will never get
		// another key: fill it. At bbolt's default of half, every page of
		// the log would stay half empty, for twice the file, the pages
		// written per commit and the pages read at start-up.
		b.FillPercent = 1.0
		for i, d := range data {
			if err := b.Put(ids[i][:], d); err != nil {
				return err
			}
		}
		return rewrite(b, rewrites)
	})
	if err != nil {
		return nil, fmt.Errorf("append %d events: %w", len(data), err)
	}
	l.last = last
	l.wakeWaiters(false)
	return ids, nil
}

// rewrite replaces the records of rewrites in b.
func rewrite(b *bolt.Bucket, rewrites []Rewrite) error {
	for _, rw := range rewrites {
		old := b.Get(rw.ID[:])
		if old == nil {
			return fmt.Errorf("rewrite %s: %w", rw.ID, ErrNotFound)
		}
		data, err := rw.Edit(old)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", rw.ID, err)
		}
		if bytes.Equal(data, old) {
			continue // and old, in the file's mapping, is not put back
		}
		if err := b.Put(rw.ID[:], data); err != nil {
			return err
		}
	}
	return nil
}

// next returns a new id greater than last: from the clock where the clock
// has moved on, else last plus one, so that ids keep the log's order even
// when the clock steps back or several ids fall in one millisecond.
func (l *Log) next(last ulid.ULID) (ulid.ULID, error) {
	ms := ulid.Timestamp(l.now())
	if ms > last.Time() {
		if id, err := ulid.New(ms, l.entropy); err == nil {
			return id, nil
		}
	}
	id := last
	for i := len(id) - 1; i >= 6; i-- {
		id[i]++
		if id[i] != 0 {
			return id, nil
		}
	}
	// The random part overflowed within one millisecond: move to the next.
	id, err := ulid.New(last.Time()+1, l.entropy)
	if err != nil {
		return ulid.ULID{}, fmt.Errorf("%w: after %s", ErrNoIDs, last)
	}
	return id, nil
}

// Scan calls fn for each record with an id greater than after (the zero
// ULID scans from the start), in log order, inside one read transaction.
// rec.Data is valid only during the call. An error from fn stops the scan
// and is returned.
func (l *Log) Scan(after ulid.ULID, fn func(rec Record) error) error {
	return l.view(fn, func(tx *bolt.Tx, deliver func(Record) error) error {
		c := tx.Bucket([]byte(migrations.EventsBucket)).Cursor()
		k, v := c.Seek(after[:])
		if k != nil && bytes.Equal(k, after[:]) {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			var rec Record
			if len(k) != len(rec.ID) {
				return fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k))
			}
			copy(rec.ID[:], k)
			rec.Data = v
			if err := deliver(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// view runs walk in a read transaction; walk hands each record to deliver,
// which calls fn. A panic or memory fault while bbolt reads the file means
// the file is damaged and becomes ErrCorrupt; a panic in fn is the caller's
// and goes on up.
func (l *Log) view(fn func(Record) error, walk func(tx *bolt.Tx, deliver func(Record) error) error) (err error) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	inFn := false
	oldPanicOnFault := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(oldPanicOnFault)
		if r := recover(); r != nil {
			if inFn {
				panic(r)
			}
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	deliver := func(rec Record) error {
		inFn = true
		err := fn(rec)
		inFn = false // not reached if fn panics
		return err
	}
	return l.db.View(func(tx *bolt.Tx) error { return walk(tx, deliver) })
}

// Get calls fn for the record of each of ids, in the order given, inside
// one read transaction. rec.Data is valid only during the call. An id that
// is not in the log returns ErrNotFound.
func (l *Log) Get(ids []ulid.ULID, fn func(rec Record) error) error {
	return l.view(fn, func(tx *bolt.Tx, deliver func(Record) error) error {
		b := tx.Bucket([]byte(migrations.EventsBucket))
		for _, id := range ids {
			v := b.Get(id[:])
			if v == nil {
				return fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			if err := deliver(Record{ID: id, Data: v}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Check runs bbolt's consistency check over the whole file. It first reads
// every key and value itself, turning damage into ErrCorrupt: bbolt's check
// runs in a goroutine of its own, where a damaged page would crash the
// process.
func (l *Log) Check() (err error) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	defer catchCorrupt(debug.SetPanicOnFault(true), &err)
	return l.db.View(func(tx *bolt.Tx) error {
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error { return nil })
		})
		if err != nil {
			return err
		}
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// BackupTo writes a consistent copy of the log, as of one read
// transaction, to a new file at path, which must not exist, while appends
// go on, and returns its size. The copy is bbolt's compaction (as
// CompactTo's): every bucket, key and value and nothing else, so it holds
// none of the old bytes that the log's file keeps in pages bbolt freed,
// such as those of a record a deletion erased. It opens like the
// original. The read transaction lasts as long as the copy: appends that
// must grow the file wait for it.
func (l *Log) BackupTo(path string) (int64, error) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	if err := compactInto(path, l.db); err != nil {
		return 0, fmt.Errorf("back up %s into %s: %w", l.path, path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// Path returns the path the log was opened at.
func (l *Log) Path() string { return l.path }

// Close waits for running operations and closes the file.
func (l *Log) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.db.Close()
	l.wakeWaiters(true)
	return err
}
