//go:build unix

package source

import (
	"os"
	"syscall"
)

// identityOf returns the device and inode of fi.
func identityOf(fi os.FileInfo) fileIdentity {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdentity{}
	}
	return fileIdentity{dev: uint64(st.Dev), ino: uint64(st.Ino)} // int32 on some platforms
}

// openRegular opens path for reading if it is a regular file. O_NONBLOCK
// makes the open of a FIFO (put at the path since it was examined) return
// at once instead of blocking until a writer comes; on a regular file it
// changes nothing.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	return checkRegular(file)
}
