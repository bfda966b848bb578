package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk meta page, as far as precheck needs it: a 16-byte page
// header, then magic, version, page size, flags (4 bytes each), the root
// bucket (16), the freelist page, the high-water page id, the txid and the
// checksum (8 each). The checksum is FNV-64a of the meta before it.
const (
	boltPageHeader    = 16
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
	boltMetaChecksumN = 56
	boltMetaSize      = boltMetaChecksumN + 8
)

// The page sizes precheck looks for the meta pages at, which are pages 0
// and 1. bbolt's pages have the size of the system's memory pages unless
// its PageSize option says otherwise: 4 KiB on most machines, 16 or 64 KiB
// on some arm64 and ppc64 ones.
const (
	minBoltPageSize = 1 << 10
	maxBoltPageSize = 64 << 10
)

// precheck refuses a file that bbolt would map beyond its end: bbolt trusts
// the meta page's high-water mark, so a truncated file makes it fault on
// the first read instead of returning an error. A missing file is fine:
// bbolt creates it. An empty regular file is ErrEmpty; anything else of
// size 0 (a device such as /dev/full) is left to bbolt and the system.
func precheck(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	if size == 0 && info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s; remove it to start a new log, or restore a backup", ErrEmpty, path)
	}
	if size == 0 {
		return nil
	}
	buf := make([]byte, 2*maxBoltPageSize) // both meta pages at any size
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err // the system's (a directory, an I/O error), not a short file
	}
	buf = buf[:n]

	var best *boltMeta
	for pageSize := minBoltPageSize; pageSize <= maxBoltPageSize; pageSize <<= 1 {
		for _, off := range []int{0, pageSize} {
			m, ok := readMeta(buf, off)
			if ok && int(m.pageSize) == pageSize && (best == nil || m.txid > best.txid) {
				best = &m
			}
		}
	}
	if best == nil {
		return fmt.Errorf("%w: %s: no valid bbolt meta page", ErrCorrupt, path)
	}
	if need := int64(best.pgid) * int64(best.pageSize); size < need {
		return fmt.Errorf("%w: %s: file is %d bytes but its pages need %d (truncated?)", ErrCorrupt, path, size, need)
	}
	// bbolt reads the freelist and the root bucket's page while opening and
	// panics (holding the file's lock) if they are not what the meta says.
	for _, p := range []struct {
		id    uint64
		flags uint16
		what  string
	}{
		{best.freelist, boltFreelistPage, "freelist"},
		{best.root, boltBranchPage | boltLeafPage, "root bucket"},
	} {
		if p.id == boltNoFreelist {
			continue
		}
		var hdr [boltPageHeader]byte
		if p.id >= best.pgid {
			return fmt.Errorf("%w: %s: %s page %d is past the end", ErrCorrupt, path, p.what, p.id)
		}
		if _, err := f.ReadAt(hdr[:], int64(p.id)*int64(best.pageSize)); errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %s: %s page: %v", ErrCorrupt, path, p.what, err)
		} else if err != nil {
			return err
		}
		le := binary.LittleEndian
		if le.Uint64(hdr[0:]) != p.id || le.Uint16(hdr[8:])&p.flags == 0 {
			return fmt.Errorf("%w: %s: %s page %d is damaged", ErrCorrupt, path, p.what, p.id)
		}
	}
	return nil
}

// bbolt page flags, and the freelist id that means "not stored".
const (
	boltBranchPage   = 0x01
	boltLeafPage     = 0x02
	boltFreelistPage = 0x10
	boltNoFreelist   = 0xffffffffffffffff
)

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

func readMeta(buf []byte, off int) (boltMeta, bool) {
	start := off + boltPageHeader
	if start+boltMetaSize > len(buf) {
		return boltMeta{}, false
	}
	m := buf[start : start+boltMetaSize]
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(m[:boltMetaChecksumN])
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion || le.Uint64(m[boltMetaChecksumN:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}
