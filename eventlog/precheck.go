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

// precheck refuses a file that bbolt would map beyond its end: bbolt trusts
// the meta page's high-water mark, so a truncated file makes it fault on
// the first read instead of returning an error. A missing or empty file is
// fine: bbolt creates it.
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
	if size == 0 {
		return nil
	}
	buf := make([]byte, 128<<10)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	buf = buf[:n]

	var best *boltMeta
	for pageSize := 1 << 10; pageSize <= 64<<10; pageSize <<= 1 {
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
	return nil
}

type boltMeta struct {
	pageSize uint32
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
	return boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}
