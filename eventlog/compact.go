package eventlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// ErrCompactMismatch means a compacted copy, read back, did not hold what
// the log holds: CompactTo found it so and returned this rather than a
// copy that must not replace the log.
var ErrCompactMismatch = errors.New("compacted copy differs from the log")

// compactTxMaxSize is how many bytes of keys and values CompactTo copies
// in one write transaction of the new file. bbolt keeps a transaction's
// pages in memory until it commits, so a log of many gigabytes is copied
// in steps of this size; each step rewrites only the path down to the
// last page, so larger steps save little.
const compactTxMaxSize = 64 << 20

// CompactTo writes a compacted copy of the log to a new file at path,
// which must not exist, with bbolt's compaction: every bucket (the
// schema version's too) and every key and value in them, in pages filled
// to the brim, and nothing else. The log's file keeps a page's old bytes
// (of values overwritten or deleted) until bbolt reuses the page; the
// copy never had them.
//
// The copy is synced to disk, then opened as a log, checked with bbolt's
// consistency check and read back against the log: CompactTo returns nil
// only if it holds the same buckets, keys and values, and otherwise
// ErrCompactMismatch or the error that stopped it, leaving the file at
// path for the caller to remove. The copy takes the log's page size.
//
// It may run concurrently with the log's other methods, but Append and
// Import wait for it (the log is read twice, to copy and to compare, and
// must not change in between), and so does Close. It is meant for a log
// that nobody appends to: a command run while the server is stopped.
func (l *Log) CompactTo(path string) error {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := compactInto(path, l.db); err != nil {
		return fmt.Errorf("compact %s into %s: %w", l.path, path, err)
	}
	c, _, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open the compacted copy: %w", err)
	}
	defer c.Close()
	if err := c.Check(); err != nil {
		return fmt.Errorf("check the compacted copy %s: %w", path, err)
	}
	return sameContents(l.db, c.db, path)
}

// compactInto makes the new file path a compacted copy of src and syncs
// it. A panic or memory fault while bbolt reads src means src is damaged.
func compactInto(path string, src *bolt.DB) (err error) {
	defer catchCorrupt(debug.SetPanicOnFault(true), &err)
	dst, err := bolt.Open(path, 0o600, &bolt.Options{
		PageSize: src.Info().PageSize,
		// One sync of the whole file at the end does what one per
		// step would: nobody may use the copy before CompactTo returns.
		NoSync: true,
		// A file that is there is someone's: never compact into it.
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag|os.O_EXCL, perm)
		},
	})
	if err != nil {
		return err
	}
	defer dst.Close()
	// bbolt grows a file of more than AllocSize (16 MiB) by that much
	// beyond what a commit needs, for the appends to come: the copy
	// would end up to 16 MiB larger than the log it compacts. Grown by
	// a page, it ends a page past its data, as a backup does.
	dst.AllocSize = dst.Info().PageSize
	if err := bolt.Compact(dst, src, compactTxMaxSize); err != nil {
		return err
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	return dst.Close()
}

// sameContents returns ErrCompactMismatch unless the databases hold the
// same buckets, sequences, keys and values, in the same order; it
// compares digests, so that neither is held in memory.
func sameContents(src, dst *bolt.DB, dstPath string) error {
	want, wantN, err := digest(src)
	if err != nil {
		return err
	}
	got, gotN, err := digest(dst)
	if err != nil {
		return fmt.Errorf("read the compacted copy %s: %w", dstPath, err)
	}
	if gotN != wantN || !bytes.Equal(got, want) {
		return fmt.Errorf("%w: %s holds %d values, the log %d", ErrCompactMismatch, dstPath, gotN, wantN)
	}
	return nil
}

// digest returns the SHA-256 of every bucket of db, with its sequence and
// its keys and values, nested buckets included, and how many values it
// holds. Each field is length-prefixed and each bucket ends with a mark,
// so that different contents never make the same stream of bytes.
func digest(db *bolt.DB) (sum []byte, values int, err error) {
	h := sha256.New()
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return digestBucket(h, name, b, &values)
		})
	})
	return h.Sum(nil), values, err
}

func digestBucket(h hash.Hash, name []byte, b *bolt.Bucket, values *int) error {
	digestField(h, 'b', name)
	h.Write(binary.BigEndian.AppendUint64(nil, b.Sequence()))
	err := b.ForEach(func(k, v []byte) error {
		if v == nil {
			return digestBucket(h, k, b.Bucket(k), values)
		}
		digestField(h, 'k', k)
		digestField(h, 'v', v)
		*values++
		return nil
	})
	h.Write([]byte{'e'})
	return err
}

func digestField(h hash.Hash, kind byte, b []byte) {
	h.Write(binary.AppendUvarint([]byte{kind}, uint64(len(b))))
	h.Write(b)
}
