package exposition

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"hash/fnv"
	"io"
	"sync"
	"sync/atomic"
)

// A gzipped page is one gzip member whose deflate stream is pieced
// together: the registry's families are compressed as each scrape writes
// them, and a pre-rendered family is copied as chunks compressed once and
// kept. That works because a deflate stream is a sequence of blocks: a
// compressor started afresh (no dictionary, so no reference to earlier
// bytes) and ended with a sync flush (byte-aligned, no final block) writes
// blocks that can go anywhere in a stream; the stream ends with an empty
// final block. This is how pigz compresses in parallel, and any gzip
// decoder reads it (it is one member, not several). The trailer's CRC-32
// and length are of the whole page, computed as it is written.
//
// A family is immutable, so its chunks stay valid for as long as it is
// served. A checkpoint replaces some series (With); chunk boundaries
// depend only on series keys, so the next family reuses every chunk whose
// series are all unchanged, and compresses only the others.

// chunkCut: a chunk ends after a series whose key hash is 0 modulo this,
// about 48 kB of OpenMetrics per chunk at the exporter's series sizes.
const chunkCut = 256

// gzipLevel is the level of every compressed piece, where promhttp uses
// the default level: at the benchmark's 36,713 series (7 MB of
// OpenMetrics) the default level took about 45 ms of a 50 ms scrape
// budget, BestSpeed about 10 ms, for 435 kB sent instead of 350 kB.
const gzipLevel = flate.BestSpeed

// gzipCache holds a family's compressed chunks, per format, once a gzip
// scrape has asked for them.
type gzipCache struct {
	mu     [numFormats]sync.Mutex
	chunks [numFormats]atomic.Pointer[[]gzipChunk]
	// reuse are the latest chunks built for an older version of the
	// family, whose unchanged chunks can be copied.
	reuse [numFormats]atomic.Pointer[[]gzipChunk]
}

type gzipChunk struct {
	members  []*series // the series compressed, a window of the family's (immutable) slice
	deflated []byte    // raw deflate, from a fresh compressor, sync-flushed
}

// newGzipCache is the cache of a family made from one with cache old (nil
// for a new family): it starts from old's latest chunks.
func newGzipCache(old *gzipCache) *gzipCache {
	c := &gzipCache{}
	if old != nil {
		for fm := range numFormats {
			p := old.chunks[fm].Load()
			if p == nil {
				p = old.reuse[fm].Load()
			}
			c.reuse[fm].Store(p)
		}
	}
	return c
}

// isCut says whether a chunk ends after the series with this key.
func isCut(key []string) bool {
	h := fnv.New32a()
	for _, k := range key {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
	}
	return h.Sum32()%chunkCut == 0
}

// gzipChunks returns f's compressed chunks in format fm, building them
// (and copying those it can from the older version) on first use.
func (f *Family) gzipChunks(fm Format) []gzipChunk {
	c := f.gz
	if p := c.chunks[fm].Load(); p != nil {
		return *p
	}
	c.mu[fm].Lock()
	defer c.mu[fm].Unlock()
	if p := c.chunks[fm].Load(); p != nil {
		return *p
	}
	old := map[*series]*gzipChunk{}
	if r := c.reuse[fm].Load(); r != nil {
		for i, ch := range *r {
			old[ch.members[0]] = &(*r)[i]
		}
	}
	var chunks []gzipChunk
	var fw *flate.Writer
	var buf bytes.Buffer
	start := 0
	for i, s := range f.series {
		if !s.cut && i < len(f.series)-1 {
			continue
		}
		members := f.series[start : i+1 : i+1]
		start = i + 1
		if o := old[members[0]]; o != nil && equalSeries(o.members, members) {
			chunks = append(chunks, gzipChunk{members: members, deflated: o.deflated})
			continue
		}
		if fw == nil {
			fw = flateWriters.Get().(*flate.Writer)
			defer flateWriters.Put(fw)
		}
		buf.Reset()
		fw.Reset(&buf)
		for _, m := range members {
			fw.Write(m.lines[fm]) // a bytes.Buffer does not fail
		}
		fw.Flush()
		chunks = append(chunks, gzipChunk{members: members, deflated: bytes.Clone(buf.Bytes())})
	}
	c.chunks[fm].Store(&chunks)
	c.reuse[fm].Store(nil) // no longer needed: let the older series go
	return chunks
}

func equalSeries(a, b []*series) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, gzipLevel)
	return w
}}

// gzipPage writes one gzip member to w: Write compresses (the registry's
// families), writeFamily copies a family's chunks.
type gzipPage struct {
	w       *bufio.Writer
	fw      *flate.Writer
	pending bool // fw has been written to since it was (re)started
	crc     uint32
	size    uint32 // modulo 2³², as the trailer has it
	err     error
}

// gzipHeader: no name, no time, XFL 4 (fastest), OS unknown; as
// compress/gzip writes it at BestSpeed.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff}

func newGzipPage(w io.Writer) *gzipPage {
	p := &gzipPage{w: bufio.NewWriterSize(w, 64<<10), fw: flateWriters.Get().(*flate.Writer)}
	p.fw.Reset(p.w)
	_, p.err = p.w.Write(gzipHeader)
	return p
}

func (p *gzipPage) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	p.crc = crc32.Update(p.crc, crc32.IEEETable, b)
	p.size += uint32(len(b))
	p.pending = p.pending || len(b) > 0
	n, err := p.fw.Write(b)
	p.err = err
	return n, err
}

// endStream sync-flushes what Write compressed, so that a chunk can follow.
func (p *gzipPage) endStream() {
	if p.pending && p.err == nil {
		p.err = p.fw.Flush()
		p.fw.Reset(p.w) // what follows a chunk must not refer to bytes before it
		p.pending = false
	}
}

func (p *gzipPage) writeFamily(f *Family, fm Format) error {
	p.Write(f.header[fm])
	p.endStream()
	for _, ch := range f.gzipChunks(fm) {
		if p.err != nil {
			return p.err
		}
		for _, s := range ch.members {
			p.crc = crc32.Update(p.crc, crc32.IEEETable, s.lines[fm])
			p.size += uint32(len(s.lines[fm]))
		}
		_, p.err = p.w.Write(ch.deflated)
	}
	return p.err
}

// Close ends the deflate stream with an empty final block, writes the
// trailer and flushes.
func (p *gzipPage) Close() error {
	p.endStream()
	if p.err == nil {
		_, p.err = p.w.Write([]byte{1, 0, 0, 0xff, 0xff}) // final stored block, length 0
	}
	if p.err == nil {
		var trailer [8]byte
		binary.LittleEndian.PutUint32(trailer[:4], p.crc)
		binary.LittleEndian.PutUint32(trailer[4:], p.size)
		_, p.err = p.w.Write(trailer[:])
	}
	if p.err == nil {
		p.err = p.w.Flush()
	}
	flateWriters.Put(p.fw)
	p.fw = nil
	return p.err
}
