//go:build !unix

package listen

// openFilesLimit is unknown here.
func openFilesLimit() uint64 { return 0 }
