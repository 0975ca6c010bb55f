package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
)

// ErrCorrupt marks a state file whose bytes are not a usable bbolt
// database. Only such files are moved aside; every other error (permission,
// read-only file system, I/O) leaves the file as it is.
var ErrCorrupt = errors.New("not a valid state file")

// bbolt's on-disk format (go.etcd.io/bbolt v1.5.0, internal/common), in the
// byte order of the machine that wrote it. Every page starts with a 16-byte
// header: id u64, flags u16, count u16, overflow u32. Pages 0 and 1 are the
// two meta pages; their meta follows the header:
//
//	magic u32, version u32, pageSize u32, flags u32, root {pgid u64,
//	sequence u64}, freelist u64, pgid (high-water mark) u64, txid u64,
//	checksum u64 (FNV-1a 64 of the meta bytes before it)
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	metaSize         = 64
	metaChecksumAt   = 56 // offset of the checksum inside the meta
	flagBranch       = 0x01
	flagLeaf         = 0x02
	flagFreelist     = 0x10
	noFreelist       = ^uint64(0)
	minPageSize      = 1024
	maxPageSize      = 1 << 24 // the largest page size bbolt looks for
	freelistOverflow = 0xFFFF  // count field value meaning "count in the first element"
)

var byteOrder = binary.NativeEndian

type meta struct {
	pageSize       uint64
	root, freelist uint64
	highWater      uint64 // pgid: the first page id past the end of the data
	txid           uint64
}

// parseMeta decodes the meta in page (header included). ok is false when
// the page is too short, or its magic, version or checksum is wrong.
func parseMeta(page []byte) (m meta, ok bool) {
	if len(page) < pageHeaderSize+metaSize {
		return meta{}, false
	}
	b := page[pageHeaderSize : pageHeaderSize+metaSize]
	h := fnv.New64a()
	h.Write(b[:metaChecksumAt])
	if byteOrder.Uint32(b[0:]) != boltMagic || byteOrder.Uint32(b[4:]) != boltVersion ||
		byteOrder.Uint64(b[metaChecksumAt:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{
		pageSize:  uint64(byteOrder.Uint32(b[8:])),
		root:      byteOrder.Uint64(b[16:]),
		freelist:  byteOrder.Uint64(b[32:]),
		highWater: byteOrder.Uint64(b[40:]),
		txid:      byteOrder.Uint64(b[48:]),
	}, true
}

// checkFile reads what bbolt would read before it maps the file, and
// rejects any file whose mapping bbolt would fault on: a fault on mapped
// memory is a SIGSEGV that no recover() catches, so a truncated file would
// crash the exporter on every start. It returns an error wrapping ErrCorrupt
// for bad bytes, and the plain error when the file cannot be read.
func checkFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := uint64(fi.Size())
	if size == 0 {
		return fmt.Errorf("%w: the file is empty (0 bytes)", ErrCorrupt)
	}
	m, err := chooseMeta(f, size)
	if err != nil {
		return err
	}
	ps := m.pageSize
	if m.highWater > size/ps {
		return fmt.Errorf("%w: truncated: %d bytes, but its pages reach %d × %d = %d bytes",
			ErrCorrupt, size, m.highWater, ps, m.highWater*ps)
	}
	if err := checkPage(f, m, "root", m.root, flagBranch, flagLeaf); err != nil {
		return err
	}
	if m.freelist != noFreelist {
		return checkPage(f, m, "freelist", m.freelist, flagFreelist)
	}
	return nil
}

// chooseMeta returns the meta bbolt would use: the valid one with the
// higher transaction id. Like bbolt, it takes the page size from meta 0
// and, when meta 0 is damaged, looks for meta 1 at every page size bbolt
// tries.
func chooseMeta(f *os.File, size uint64) (meta, error) {
	m0, ok0, err := metaAt(f, 0)
	if err != nil {
		return meta{}, err
	}
	var m1 meta
	ok1 := false
	if ok0 {
		if m0.pageSize < minPageSize || m0.pageSize > maxPageSize {
			return meta{}, fmt.Errorf("%w: meta page 0 has page size %d", ErrCorrupt, m0.pageSize)
		}
		if m1, ok1, err = metaAt(f, m0.pageSize); err != nil {
			return meta{}, err
		}
		if ok1 && m1.pageSize != m0.pageSize {
			return meta{}, fmt.Errorf("%w: the meta pages disagree on the page size (%d, %d)", ErrCorrupt, m0.pageSize, m1.pageSize)
		}
	} else {
		for ps := uint64(minPageSize); ps <= maxPageSize && ps < size; ps *= 2 {
			if m1, ok1, err = metaAt(f, ps); err != nil {
				return meta{}, err
			}
			if ok1 = ok1 && m1.pageSize == ps; ok1 {
				break
			}
		}
	}
	switch {
	case !ok0 && !ok1:
		return meta{}, fmt.Errorf("%w: neither meta page is valid (magic, version or checksum)", ErrCorrupt)
	case ok1 && (!ok0 || m1.txid > m0.txid):
		return m1, nil
	default:
		return m0, nil
	}
}

// metaAt reads and decodes the meta page at byte offset off.
func metaAt(f *os.File, off uint64) (meta, bool, error) {
	page, err := readAt(f, int64(off), pageHeaderSize+metaSize)
	if err != nil {
		return meta{}, false, err
	}
	m, ok := parseMeta(page)
	return m, ok, nil
}

// checkPage checks that page id of the chosen meta lies below the
// high-water mark, is of one of the wanted kinds, and (with its overflow
// pages and, for the freelist, its entries) ends below it too.
func checkPage(f *os.File, m meta, what string, id uint64, kinds ...uint16) error {
	if id < 2 || id >= m.highWater {
		return fmt.Errorf("%w: %s page %d outside the file's pages [2, %d)", ErrCorrupt, what, id, m.highWater)
	}
	hdr, err := readAt(f, int64(id*m.pageSize), pageHeaderSize+8)
	if err != nil {
		return err
	}
	if len(hdr) < pageHeaderSize+8 {
		return fmt.Errorf("%w: %s page %d is cut off", ErrCorrupt, what, id)
	}
	pid, flags := byteOrder.Uint64(hdr[0:]), byteOrder.Uint16(hdr[8:])
	count, overflow := uint64(byteOrder.Uint16(hdr[10:])), uint64(byteOrder.Uint32(hdr[12:]))
	if pid != id || !slices.Contains(kinds, flags) {
		return fmt.Errorf("%w: %s page %d has id %d and flags %#x", ErrCorrupt, what, id, pid, flags)
	}
	if overflow >= m.highWater-id {
		return fmt.Errorf("%w: %s page %d overflows past the last page (%d)", ErrCorrupt, what, id, m.highWater-1)
	}
	if flags == flagFreelist {
		slots := ((overflow+1)*m.pageSize - pageHeaderSize) / 8
		n := count
		if count == freelistOverflow { // the count is in the first slot
			n = byteOrder.Uint64(hdr[pageHeaderSize:])
			slots--
		}
		if n > slots {
			return fmt.Errorf("%w: freelist page %d lists %d free pages, more than it holds", ErrCorrupt, id, n)
		}
	}
	return nil
}

// readAt reads up to n bytes at off; fewer at the end of the file.
func readAt(f *os.File, off int64, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	return buf[:got], nil
}
