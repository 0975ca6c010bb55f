//go:build !unix

package source

import (
	"hash/fnv"
	"os"
)

// identityOf stands in for device and inode where there are none: a hash
// of the name. A file renamed away and replaced then looks like one file
// truncated in place, which is still read from the start.
func identityOf(fi os.FileInfo) fileIdentity {
	h := fnv.New64a()
	h.Write([]byte(fi.Name()))
	return fileIdentity{ino: h.Sum64()}
}

// openRegular opens path for reading if it is a regular file.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return checkRegular(file)
}
