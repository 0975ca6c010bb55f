package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// fingerprintBytes is how many leading bytes of a file its fingerprint
// covers. A log file's first line usually holds a timestamp, so two files
// (an inode reused, a file rewritten in place) rarely share it.
const fingerprintBytes = 256

// fileIdentity tells files apart while they are open: device and inode on
// Unix. An open file's inode cannot be reused, so it is enough for
// following; across restarts the fingerprint guards against reuse.
type fileIdentity struct {
	dev, ino uint64
}

// position is a file's cursor: where to resume and which file it was.
// It is encoded as JSON, readable when debugging the store.
type position struct {
	Offset int64  `json:"offset"` // just after the last complete line handed on
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	FP     uint64 `json:"fp"`     // FNV-1a 64 of the first FPLen bytes
	FPLen  int    `json:"fp_len"` // min(size, fingerprintBytes) when taken
}

func (p position) encode() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a struct of integers always marshals
	}
	return b
}

func decodePosition(b []byte) (position, error) {
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		return position{}, fmt.Errorf("decoding file position %q: %w", b, err)
	}
	if p.Offset < 0 || p.FPLen < 0 || p.FPLen > fingerprintBytes {
		return position{}, fmt.Errorf("file position %q out of range", b)
	}
	return p, nil
}

// fingerprint hashes the first n bytes of f.
func fingerprint(f io.ReaderAt, n int) (uint64, error) {
	var buf [fingerprintBytes]byte
	if n > len(buf) {
		n = len(buf)
	}
	if n == 0 {
		return fnv.New64a().Sum64(), nil
	}
	if _, err := f.ReadAt(buf[:n], 0); err != nil {
		return 0, fmt.Errorf("reading the first %d bytes: %w", n, err)
	}
	h := fnv.New64a()
	h.Write(buf[:n])
	return h.Sum64(), nil
}

// fingerprintLen is how many bytes the fingerprint of a file of size covers.
func fingerprintLen(size int64) int {
	return int(min(size, fingerprintBytes))
}

// errChanged reports that a saved position belongs to another file or to
// an earlier content of this one.
var errChanged = errors.New("file changed since the position was saved")

// resumeAt returns the offset to resume f (identity id, size size) at from
// the saved position p, or errChanged when the file must be read from the
// start: another inode, a different fingerprint (inode reused, file
// rewritten) or a size below the saved offset (truncated).
//
// The device number is not compared: it may change across reboots and
// container restarts while inode and content stay; the fingerprint
// catches the rare inode number shared by two devices.
func (p position) resumeAt(f io.ReaderAt, id fileIdentity, size int64) (int64, error) {
	switch {
	case id.ino != p.Ino:
		return 0, fmt.Errorf("%w: inode %d, saved %d", errChanged, id.ino, p.Ino)
	case size < p.Offset:
		return 0, fmt.Errorf("%w: size %d below the saved offset %d", errChanged, size, p.Offset)
	case size < int64(p.FPLen):
		return 0, fmt.Errorf("%w: size %d below the fingerprinted %d bytes", errChanged, size, p.FPLen)
	}
	fp, err := fingerprint(f, p.FPLen)
	if err != nil {
		return 0, err
	}
	if fp != p.FP {
		return 0, fmt.Errorf("%w: the first %d bytes differ", errChanged, p.FPLen)
	}
	return p.Offset, nil
}

// statIdentity returns the identity and size of an open file.
func statIdentity(f *os.File) (fileIdentity, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileIdentity{}, 0, err
	}
	return identityOf(fi), fi.Size(), nil
}

// checkRegular returns file and its FileInfo if it is a regular file, and
// closes it otherwise.
func checkRegular(file *os.File) (*os.File, os.FileInfo, error) {
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file (%s)", file.Name(), fi.Mode().Type())
	}
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, fi, nil
}
