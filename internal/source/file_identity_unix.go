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
